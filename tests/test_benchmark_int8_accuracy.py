"""benchmarks/benchlib/int8_accuracy.py: the trained proxies of the int8 accuracy benchmarks are the networks they
say (SegFormer-B0 and CE2P ResNet-50 on their recipes' label sets), their photos split as intended, and the
verdict refuses to judge an untrained network. Nothing is trained or timed here."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))  # benchlib is not in the package

from benchlib.int8_accuracy import (  # noqa: E402
    CE2P_RESNET50,
    SEGFORMER_B0,
    _split_photos,
    verdict,
)
from benchlib.photos import synthetic_people  # noqa: E402

from humanparse import build_model, get_config  # noqa: E402
from humanparse.data.labels import get_label_set  # noqa: E402


@pytest.mark.parametrize("network", [SEGFORMER_B0, CE2P_RESNET50], ids=["segformer_b0", "ce2p_resnet50"])
def test_each_proxy_is_a_valid_recipe_on_its_synthetic_label_set(network):
    config = get_config(network.recipe).override(list(network.overrides))
    assert config.data.dataset == network.layout  # the synthetic people carry the recipe's label set
    assert config.model.num_classes == len(get_label_set(network.layout).classes)
    assert tuple(config.eval.input_size) == (224, 224)


def test_the_segformer_proxy_is_a_mit_b0():
    config = get_config(SEGFORMER_B0.recipe).override(list(SEGFORMER_B0.overrides))
    model = build_model(config)
    assert model.spec.hidden_sizes == [32, 64, 160, 256] and model.spec.depths == [2, 2, 2, 2]
    assert model.spec.decoder_hidden_size == 256 and config.train.head_lr_mult == 1.0


def test_atr_photos_split_into_calibration_and_validation(tmp_path):
    data = synthetic_people(tmp_path / "synth", train=5, val=3, size=(64, 64), layout="atr")
    calibration, held_out = _split_photos(data, "atr", calib=2)
    assert [p.name for p in calibration] == ["train_000000.jpg", "train_000001.jpg"]
    assert len(held_out) == 3 and all(p.is_file() and "val" in p.name for p in held_out)


def test_an_untrained_network_is_not_judged():
    report = SimpleNamespace(agreement=1.0, miou={"fp32": 12.0, "int8": 12.0})
    assert verdict(report).startswith("not judged")
    report = SimpleNamespace(agreement=0.995, miou={"fp32": 60.0, "int8": 59.8})
    assert verdict(report) == "met"
    report = SimpleNamespace(agreement=0.97, miou={"fp32": 60.0, "int8": 59.8})
    assert verdict(report) == "NOT met"
