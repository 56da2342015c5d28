"""Training losses of each recipe family; each loss module registers its class with `@register_loss`."""

from __future__ import annotations

from torch import nn

from humanparse.configs import Config
from humanparse.losses.mixup import MixupLoss
from humanparse.registry import LOSSES


def build_loss(config: Config) -> nn.Module:
    """The loss `config.train.loss` names: `loss(outputs, batch)` returns a dict with the total under "loss".

    With a batch mixup in the recipe (`train.mixup_prob > 0`), a mixed batch is scored against both its targets.
    """
    loss = LOSSES.get(config.train.loss)(config)
    return MixupLoss(loss) if config.train.mixup_prob > 0 else loss
