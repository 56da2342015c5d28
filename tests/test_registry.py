"""Registries: every network, recipe and loss is found by name; unsupported values and shared cache names fail."""

from __future__ import annotations

import pytest
import torch

import humanparse
from humanparse.configs import get_config, list_configs
from humanparse.errors import ConfigError
from humanparse.models.checkpoint_io import checkpoint_dict
from humanparse.models.weights import load_for_inference_with_report
from humanparse.registry import ARCHITECTURES, LOSSES, RECIPES, Registry


def test_every_recipe_names_a_registered_architecture_and_loss():
    assert len(list_configs()) == 25
    for name in list_configs():
        config = get_config(name)
        assert config.name == name
        assert config.model.arch in ARCHITECTURES
        assert config.train.loss in LOSSES
    assert set(ARCHITECTURES.names()) == {"ce2p", "ce2p_official", "cdgnet", "csenet", "segformer"}
    assert ARCHITECTURES.get("csenet").converter is not None


def test_unknown_names_list_what_exists():
    with pytest.raises(
        ConfigError, match=r"unknown config 'csenet_resnet50_lip'; did you mean csenet_resnet101_lip"
    ):
        get_config("csenet_resnet50_lip")
    with pytest.raises(ConfigError, match="unknown loss 'focal'; known: cdg, ce, ce2p"):
        LOSSES.get("focal")
    config = get_config("ce2p_tiny_synthetic").override(["model.arch=unet"])
    with pytest.raises(ConfigError, match="unknown architecture 'unet'"):
        humanparse.build_model(config)


def test_a_name_registered_twice_is_refused():
    registry = Registry("thing", "humanparse.configs")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        registry.add("a", 2)
    assert RECIPES.get("ce2p_tiny_synthetic")().name == "ce2p_tiny_synthetic"


@pytest.mark.parametrize(
    "name, assignment, message",
    [
        (
            "cdgnet_resnet101_lip",
            "model.output_stride=8",
            r"model.output_stride=8 is not supported by the 'cdgnet'",
        ),
        ("cdgnet_resnet101_lip", "model.backbone_stem=v1c", r"model.backbone_stem='v1c' is not supported"),
        ("csenet_resnet101_lip", "model.output_stride=8", r"not supported by the 'csenet' network"),
        (
            "ce2p_resnet50os8_lip",
            "model.output_stride=32",
            r"model.output_stride=32 is not supported by the 'ce2p'",
        ),
        ("ce2p_resnet50os8_lip", "model.backbone_depth=34", r"model.backbone_depth=34 is not supported"),
        ("schp_resnet101_lip", "model.backbone_stem=v2", r"model.backbone_stem='v2' is not supported"),
    ],
)
def test_a_network_refuses_values_it_would_ignore(name, assignment, message):
    config = get_config(name).override([assignment])
    with torch.device("meta"), pytest.raises(ConfigError, match=message):
        humanparse.build_model(config)


def test_load_for_inference_ignores_a_moved_imagenet_file(tmp_path):
    """A run's config.yaml names the ImageNet file of the machine that trained it; loading weights never reads it."""
    config = get_config("ce2p_tiny_synthetic")
    model = humanparse.build_model(config)
    config.model.pretrained = str(tmp_path / "moved" / "resnet50_v1c.pth")
    path = tmp_path / "best.pth"
    torch.save(checkpoint_dict(model, config), path)
    loaded, report = load_for_inference_with_report(config, path)
    assert not loaded.training and loaded.config.model.pretrained == ""
    assert report.ok and report.format == "humanparse"
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])
