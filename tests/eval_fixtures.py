"""Helpers of the evaluation and prediction tests: tiny recipes, their checkpoints and a synthetic LIP split.

Imported by name (`from eval_fixtures import ...`): pytest puts this folder on sys.path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import torch

from humanparse.configs import Config, get_config

TINY_SETTINGS = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]", "eval.input_size=[64,64]"]
RESIZE_RECIPE = "ce2p_tiny_synthetic"  # SSSegmentation protocol
AFFINE_RECIPE = "csenet_resnet101_lip"  # official protocol, scales 0.75/1/1.25 + flip, truncated centre


def tiny_config(name: str, *extra: str) -> Config:
    """A recipe with a 1/8-width, one-block-per-stage network and 64 px test inputs."""
    return get_config(name).override([*TINY_SETTINGS, *extra])


def tiny_model(config: Config, seed: int = 0) -> torch.nn.Module:
    """`config`'s network with seeded random weights, in eval mode."""
    from humanparse.models.builder import build_model

    torch.manual_seed(seed)
    return build_model(config).eval()


def save_checkpoint(config: Config, path: Path, seed: int = 0) -> Path:
    """A humanparse weights file of `tiny_model(config, seed)`."""
    from humanparse.models.checkpoint_io import checkpoint_dict

    torch.save(checkpoint_dict(tiny_model(config, seed), config), path)
    return path


def write_photos(root: Path, sizes: Dict[str, Tuple[int, int]], seed: int) -> Path:
    """Random BGR photos under `root`: one per relative path in `sizes`, (height, width) each; returns `root`."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for name, size in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / name), rng.integers(0, 256, size=size + (3,), dtype=np.uint8))
    return root


def make_lip_split(root: Path, val: int = 3, size=(45, 38)) -> Path:
    """A synthetic LIP-layout dataset (odd-sized images) with `val` validation people."""
    from humanparse.data.synth import generate_dataset

    return generate_dataset(layout="lip", out=root, train=1, val=val, size=size, seed=3)


def cli_settings() -> List[str]:
    """The `--set` arguments that make the CLI build the tiny network."""
    return ["--set", *TINY_SETTINGS]
