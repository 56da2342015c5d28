"""Helpers of the serve tests: a tiny random-weight CE2P checkpoint, synthetic people, encoded uploads.

Imported by name (`from serve_fixtures import ...`): pytest puts this folder on sys.path.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

RECIPE = "ce2p_tiny_synthetic"
SETUP_HINT = "run `bash scripts/setup.sh --dev` (installs the dev extra, chromium and chromium-driver)"


def require(*modules: str) -> None:
    """Fail (never skip) when a module the serve tests need is missing: the dev extra has them all."""
    import importlib.util

    import pytest

    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"the serve tests need {', '.join(missing)}: {SETUP_HINT}", pytrace=False)


def save_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """Random weights of `ce2p_tiny_synthetic` in this package's checkpoint format.

    The BatchNorm statistics are re-estimated on a few synthetic people: with the initial ones every pixel
    gets the same class, and the page test needs several classes.
    """
    import humanparse
    from humanparse.data.transforms import build_val_transform
    from humanparse.models.checkpoint_io import checkpoint_dict

    torch.manual_seed(seed)
    model = humanparse.build_model(RECIPE)
    transform = build_val_transform(model.config)
    batch = torch.stack([transform(synthetic_person(100 + i))["image"] for i in range(4)])
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batch
    with torch.no_grad():
        model.train()(batch)
    torch.save(checkpoint_dict(model.eval()), path)
    return path


def synthetic_person(seed: int = 0, size=(160, 112)) -> np.ndarray:
    """A synthetic person (BGR uint8) as `humanparse synth` draws them."""
    from humanparse.data.synth import render_sample

    image, _ = render_sample("lip", size, np.random.default_rng(seed))
    return image


def encode(image: np.ndarray, ext: str = ".png") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()
