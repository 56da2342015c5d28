"""`build_model`: a named recipe (or a Config) to its network, through the architecture registry."""

from __future__ import annotations

from typing import Any, Sequence, Union

from torch import nn

from humanparse.configs import Config, load_config
from humanparse.errors import ConfigError
from humanparse.models.conversions import load_imagenet_backbone
from humanparse.registry import ARCHITECTURES


def build_model(config: Union[str, Config]) -> nn.Module:
    """Build the network of a named config (see `humanparse configs`) or of a Config object.

    The returned module carries the full config as `model.config`; `config.model.pretrained` (a local ImageNet
    file) is loaded into its backbone, strictly, by the family's own loader (`register_arch(imagenet=)`) or the
    ResNet one. A model value the network does not support is a ConfigError.
    """
    if isinstance(config, str):
        config = load_config(config)
    model_config = config.model
    require(model_config, "backbone_depth", (50, 101))
    if model_config.num_classes < 1:
        raise ConfigError(f"model.num_classes must be at least 1, got {model_config.num_classes}")
    if not model_config.width > 0:
        raise ConfigError(f"model.width must be positive, got {model_config.width}")
    architecture = ARCHITECTURES.get(model_config.arch)
    model = architecture.build(config)
    model.config = config
    if model_config.pretrained:
        load_imagenet = architecture.imagenet or load_imagenet_backbone
        load_imagenet(model.backbone, model_config.pretrained)
    return model


def require(model_config: Any, field: str, supported: Sequence[Any]) -> None:
    """ConfigError naming `model.<field>` when its value is not one the network supports."""
    value = getattr(model_config, field)
    if value not in supported:
        choices = ", ".join(repr(choice) for choice in supported)
        raise ConfigError(
            f"model.{field}={value!r} is not supported by the {model_config.arch!r} network (supported: {choices})"
        )
