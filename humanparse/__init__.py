"""humanparse: human parsing networks (CE2P, SCHP, CDGNet, CSENet), their recipes, and a tool around them.

The public API, imported lazily so that `humanparse --help` stays quick:

    import humanparse
    model = humanparse.build_model("ce2p_resnet101os8_lip")
    humanparse.load_weights(model, "ce2p_resnet101os8_lip.pth")
    predictor = humanparse.Predictor("csenet_resnet101_lip", "LIP_epoch_Best.pth")
    labels = predictor("person.jpg")
    humanparse.download_weights("schp_resnet101_lip")  # published weights by name, verified (`humanparse models`)
    predictor = humanparse.Predictor("schp_resnet101_lip")  # a recipe with no checkpoint: its zoo weights
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "build_model": "humanparse.models.builder",
    "load_weights": "humanparse.models.weights",
    "load_for_inference": "humanparse.models.weights",
    "Predictor": "humanparse.inference.predictor",
    "get_config": "humanparse.configs",
    "list_configs": "humanparse.configs",
    "load_config": "humanparse.configs",
    "download_weights": "humanparse.zoo",
    "get_label_set": "humanparse.data.labels",
    "get_palette": "humanparse.data.labels",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'humanparse' has no attribute {name!r}")
