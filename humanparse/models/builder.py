"""`build_model`: a named recipe (or a Config) to its network."""

from __future__ import annotations

import importlib
from typing import Union

from torch import nn

from humanparse.configs import Config, load_config
from humanparse.errors import ConfigError

# ModelConfig.arch -> module under humanparse.models exposing build(config) -> nn.Module
ARCHITECTURES = {
    "ce2p": "ce2p",
    "ce2p_official": "ce2p_official",
    "cdgnet": "cdgnet",
    "csenet": "csenet",
}


def build_model(config: Union[str, Config]) -> nn.Module:
    """Build the network of a named config (see `humanparse configs`) or of a Config object.

    The returned module carries the full config as `model.config`; `config.model.pretrained` (a local ImageNet
    file) is loaded into its backbone, strictly.
    """
    if isinstance(config, str):
        config = load_config(config)
    arch = config.model.arch
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}")
    module = importlib.import_module(f"humanparse.models.{ARCHITECTURES[arch]}")
    model = module.build(config)
    model.config = config
    if config.model.pretrained:
        from humanparse.models.weights import load_imagenet_backbone

        load_imagenet_backbone(model.backbone, config.model.pretrained)
    return model
