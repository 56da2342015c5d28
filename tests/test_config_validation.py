"""Config values are typed and range-checked wherever a config is built: `--set`, YAML files, checkpoints."""

from __future__ import annotations

import pytest

from humanparse.cli import main
from humanparse.configs import Config, TrainConfig, get_config, load_config
from humanparse.errors import ConfigError

RECIPE = "ce2p_resnet50os8_lip"


@pytest.fixture(scope="module")
def config() -> Config:
    return get_config(RECIPE)


@pytest.mark.parametrize(
    "assignment, message",
    [
        ("train.batch_size=abc", "train.batch_size=abc: expected an integer"),
        ("train.epochs=two", "train.epochs=two: expected an integer"),
        ("train.epochs=1.5", "train.epochs=1.5: expected an integer"),
        ("train.batch_size=0", "train.batch_size=0: must be at least 1"),
        ("train.batch_size=-2", "train.batch_size=-2: must be at least 1"),
        ("train.epochs=0", "train.epochs=0: must be at least 1"),
        ("train.lr=-0.1", "train.lr=-0.1: must be above 0"),
        ("train.lr=0", "train.lr=0: must be above 0"),
        ("train.lr=[1", r"train.lr=\[1: expected a number"),
        ("train.momentum=1", r"train.momentum=1: must be in \[0, 1\)"),
        ("train.weight_decay=-1e-4", "train.weight_decay=-1e-4: must be at least 0"),
        ("train.amp=1", "train.amp=1: expected true or false"),
        ("train.mixup_prob=1.5", r"train.mixup_prob=1.5: must be in \[0, 1\]"),
        ("data.num_workers=-1", "data.num_workers=-1: must be at least 0"),
        ("data.flip_prob=2", r"data.flip_prob=2: must be in \[0, 1\]"),
        ("data.crop_size=[10]", r"data.crop_size=\[10\]: expected a list of 2 integers"),
        ("data.crop_size=[0, 10]", r"data.crop_size=\[0, 10\]: must be at least 1"),
        ("data.flip_pairs=[[1, 2], [3]]", "expected a list of pairs of integers"),
        ("model.num_classes=0", "model.num_classes=0: must be at least 1"),
        ("model.width=0", "model.width=0: must be above 0"),
        ("model.stage_blocks=[1, 1, 1, 0]", "model.stage_blocks=.*: must be at least 1"),
        ("model.input_size=[473, -1]", "model.input_size=.*: must be at least 1"),
        ("eval.scales=[]", r"eval.scales=\[\]: must not be empty"),
        ("eval.scales=[1, 0]", "eval.scales=.*: must be above 0"),
        ("eval.scales=[1, .nan]", "eval.scales=.*: expected finite numbers"),
        ("eval.scales=.inf", "eval.scales=inf: expected a list of numbers"),
    ],
)
def test_a_wrong_override_names_the_key_and_the_rule(config, assignment, message):
    with pytest.raises(ConfigError, match=message):
        config.override([assignment])


def test_values_are_converted_to_the_field_types(config):
    changed = config.override(
        ["train.lr=1e-3", "train.epochs=2.0", "data.rotation_degrees=10", "eval.scales=[1, 1.5]"]
    )
    assert changed.train.lr == 0.001 and isinstance(changed.train.lr, float)  # "1e-3" is a string in YAML 1.1
    assert changed.train.epochs == 2 and isinstance(changed.train.epochs, int)
    assert changed.data.rotation_degrees == 10.0 and isinstance(changed.data.rotation_degrees, float)
    assert changed.eval.scales == [1.0, 1.5]
    assert changed.data.crop_size == (473, 473)


def test_string_fields_take_the_text_as_typed(config):
    changed = config.override(["data.root=~/lip", "model.pretrained=", "data.train_split=2017"])
    assert changed.data.root == "~/lip"  # YAML would read `~` as null
    assert changed.model.pretrained == "" and changed.data.train_split == "2017"
    assert config.override(["data.val_split='val'"]).data.val_split == "val"


def test_sections_built_in_python_are_checked_too():
    with pytest.raises(ConfigError, match="train.epochs=1.5: expected an integer"):
        TrainConfig(epochs=1.5)


def test_a_checkpoint_copy_is_checked(config):
    data = config.to_dict()
    data["train"]["batch_size"] = "abc"
    with pytest.raises(ConfigError, match="train.batch_size=abc"):
        Config.from_dict(data)


@pytest.mark.parametrize(
    "drop, message",
    [
        (("data", "dataset"), "missing key data.dataset"),
        (("model", "arch"), "missing key model.arch"),
        (("model", "num_classes"), "missing key model.num_classes"),
        (("name",), "missing key 'name'"),
    ],
)
def test_a_yaml_config_missing_a_required_key_names_it(config, tmp_path, drop, message):
    data = config.to_dict()
    node = data
    for part in drop[:-1]:
        node = node[part]
    del node[drop[-1]]
    import yaml

    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=f"{path}: {message}"):
        load_config(str(path))


def test_a_yaml_config_with_a_wrong_value_names_file_and_key(config, tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(config.to_yaml().replace("epochs: 150", "epochs: 1.5"))
    with pytest.raises(ConfigError, match=f"{path}: train.epochs=1.5: expected an integer"):
        load_config(str(path))


def test_a_malformed_yaml_config_names_file_line_and_column(config, tmp_path):
    path = tmp_path / "broken.yaml"
    lines = config.to_yaml().splitlines()
    lines.insert(3, "\tarch: ce2p")  # line 4: a tab cannot start a YAML token
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"{path}:4:\d+: malformed YAML"):
        load_config(str(path))


def test_the_cli_prints_one_line_and_exits_2(capsys):
    assert main(["configs", "show", RECIPE, "--set", "train.epochs=1.5"]) == 2
    err = capsys.readouterr().err
    assert err == "humanparse configs: error: train.epochs=1.5: expected an integer\n"


def test_the_cli_names_the_yaml_file_of_a_bad_config(tmp_path, capsys):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmodel: {arch: ce2p\ndata: {}\n")
    assert main(["test", str(path), "weights.pth", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"humanparse test: error: {path}:") and "malformed YAML" in err
    assert err.count("\n") == 1
