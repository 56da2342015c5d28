"""Training losses of each recipe family; each loss module registers its class with `@register_loss`."""

from __future__ import annotations

from torch import nn

from humanparse.configs import Config
from humanparse.registry import LOSSES


def build_loss(config: Config) -> nn.Module:
    """The loss `config.train.loss` names: `loss(outputs, batch)` returns a dict with the total under "loss"."""
    return LOSSES.get(config.train.loss)(config)
