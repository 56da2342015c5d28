"""Named recipes: the list the issue promises, values from the references, overrides and round trips."""

import pytest

from humanparse.configs import Config, get_config, list_configs, load_config
from humanparse.errors import ConfigError
from humanparse.zoo import get_entry

CE2P_NAMES = [
    f"ce2p_resnet{depth}os{stride}_{dataset}"
    for depth in (50, 101)
    for stride in (8, 16)
    for dataset in ("lip", "cihp", "atr", "voc")
]


def test_every_promised_config_is_registered():
    names = set(list_configs())
    expected = set(CE2P_NAMES) | {
        "ce2p_official_resnet101_lip",
        "schp_resnet101_lip",
        "schp_resnet101_atr",
        "schp_resnet101_pascal",
        "cdgnet_resnet101_lip",
        "csenet_resnet101_lip",
    }
    assert expected <= names


@pytest.mark.parametrize("name", CE2P_NAMES)
def test_ce2p_recipes_follow_sssegmentation(name):
    config = get_config(name)
    is_voc = name.endswith("_voc")
    assert config.model.arch == "ce2p" and config.model.backbone_stem == "v1c"
    assert config.model.output_stride == int(name.split("os")[1].split("_")[0])
    assert config.data.crop_size == ((512, 512) if is_voc else (473, 473))
    assert config.train.batch_size == (16 if is_voc else 32)
    assert config.train.epochs == (60 if is_voc else 150)
    assert config.train.lr == 0.01 and config.train.min_lr == pytest.approx(1e-4)
    assert config.train.edge_loss_normalized is (not is_voc)
    assert config.eval.protocol == "resize" and config.eval.keep_ratio is is_voc
    assert get_entry(name).files[0].sources[0].url.endswith(f"/ssseg_ce2p/{name}_train.pth")


def test_official_recipes():
    csenet = get_config("csenet_resnet101_lip")
    assert (csenet.train.lr, csenet.train.batch_size, csenet.train.mixup_prob) == (2.5e-3, 16, 0.3)
    assert csenet.eval.scales == [0.75, 1.0, 1.25] and csenet.eval.flip
    assert csenet.published["miou"] == 61.27
    cdgnet = get_config("cdgnet_resnet101_lip")
    assert (cdgnet.train.lr, cdgnet.train.batch_size, cdgnet.data.blur_passes) == (3e-3, 32, 3)
    assert get_config("schp_resnet101_atr").model.input_size == (512, 512)
    assert get_config("schp_resnet101_pascal").model.num_classes == 7
    assert get_config("schp_resnet101_lip").data.normalization == "bgr"


def test_override_parses_values_and_rejects_unknown_keys():
    config = get_config("ce2p_resnet50os8_lip").override(["train.lr=0.5", "model.stage_blocks=[1,1,1,1]"])
    assert config.train.lr == 0.5 and config.model.stage_blocks == (1, 1, 1, 1)
    with pytest.raises(ConfigError, match="unknown config key"):
        config.override(["train.learning_rate=1"])
    with pytest.raises(ConfigError, match="key=value"):
        config.override(["train.lr"])


def test_yaml_round_trip(tmp_path):
    config = get_config("csenet_resnet101_lip")
    path = tmp_path / "recipe.yaml"
    path.write_text(config.to_yaml())
    assert load_config(str(path)) == config
    assert Config.from_dict(config.to_dict()) == config


def test_unknown_config_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown config"):
        get_config("ce2p_resnet18_lip")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("missing.yaml")
