"""Helpers of the training tests: a small synthetic LIP dataset and a tiny recipe.

Imported by name (`from train_fixtures import ...`): pytest puts this folder on sys.path.
"""

from __future__ import annotations

from pathlib import Path

from humanparse.cli import main as cli_main
from humanparse.configs import Config, get_config

SYNTH_SIZE = 64


def make_synthetic_lip(root: Path) -> Path:
    """8 training and 2 validation people, 64x64, written by `humanparse synth` in the LIP layout under `root`."""
    size = str(SYNTH_SIZE)
    argv = [
        "synth",
        "--layout",
        "lip",
        "--out",
        str(root),
        "--train",
        "8",
        "--val",
        "2",
        "--size",
        size,
        size,
    ]
    assert cli_main(argv + ["--seed", "5"]) == 0
    return root


def tiny_config(data_root: Path, *extra: str) -> Config:
    """`ce2p_tiny_synthetic` shrunk to 64 px crops and a 1/8-width network, so an iteration takes milliseconds."""
    config = get_config("ce2p_tiny_synthetic").override(
        [
            "model.width=0.125",
            "model.stage_blocks=[1,1,1,1]",
            "model.input_size=[64,64]",
            "data.crop_size=[64,64]",
            "data.resize_size=[72,72]",
            "data.num_workers=0",
            "eval.input_size=[64,64]",
            "train.batch_size=2",
            "train.epochs=2",
            "train.eval_interval=1",
            *extra,
        ]
    )
    config.data.root = str(data_root)
    return config
