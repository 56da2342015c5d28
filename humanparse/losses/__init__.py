"""Training losses of each recipe family."""

from __future__ import annotations

import importlib

from torch import nn

from humanparse.configs import Config
from humanparse.errors import ConfigError

# TrainConfig.loss -> (module under humanparse.losses, class name)
_LOSSES = {"ce2p": ("ce2p", "CE2PLoss"), "cdg": ("cdg", "CDGLoss")}


def build_loss(config: Config) -> nn.Module:
    """The loss of a recipe: `loss(outputs, batch)` returns a dict with the total under "loss"."""
    if config.train.loss not in _LOSSES:
        raise ConfigError(f"unknown loss {config.train.loss!r}; known: {', '.join(_LOSSES)}")
    module_name, class_name = _LOSSES[config.train.loss]
    module = importlib.import_module(f"humanparse.losses.{module_name}")
    return getattr(module, class_name)(config)
