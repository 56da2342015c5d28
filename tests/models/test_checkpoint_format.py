"""One reader of weights files: nothing in the package but `models/checkpoint_io.py` calls `torch.load`."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from humanparse.models.checkpoint_io import read_checkpoint

PACKAGE = Path(__file__).resolve().parents[2] / "humanparse"


def _calls_torch_load(source: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "torch"
        for node in ast.walk(ast.parse(source))
    )


def test_only_checkpoint_io_calls_torch_load():
    assert _calls_torch_load("import torch\nx = torch.load(p, weights_only=True)")
    assert not _calls_torch_load('"""torch.load(weights_only=True) in a docstring"""')
    callers = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if _calls_torch_load(path.read_text())
    )
    assert callers == ["models/checkpoint_io.py"]


def test_read_checkpoint_maps_a_file_on_request(tmp_path):
    path = tmp_path / "c.pth"
    torch.save({"epoch": 3, "model": {"w": torch.ones(2)}}, path)
    assert read_checkpoint(path, mmap=True)["epoch"] == 3
