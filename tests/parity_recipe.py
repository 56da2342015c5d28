"""The parity-fixture weight and input recipe of tests/fixtures/parity/README.md, written once for every test.

Usage: ``from parity_recipe import recipe_state_dict, recipe_input`` (tests/conftest.py puts tests/ on sys.path).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple, Union

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parity"

KeyEntry = Tuple[str, Tuple[int, ...], str]


def _rng(key: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(zlib.crc32(key.encode("utf-8"))))


def read_keys(path: Union[str, Path]) -> List[KeyEntry]:
    """(key, shape, dtype) rows of a ``*_keys.tsv`` file."""
    entries = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        entries.append((key, tuple(int(s) for s in shape.strip("()").split(",") if s.strip()), dtype.strip()))
    return entries


def recipe_value(key: str, shape: Sequence[int], salt: str = "", gain: float = 1.0) -> np.ndarray:
    """One state-dict entry by the recipe."""
    shape = tuple(shape)
    last = key.rsplit(".", 1)[-1]
    if last == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    rng = _rng(salt + key)
    if last == "running_mean":
        value = 0.1 * rng.standard_normal(shape)
    elif last == "running_var":
        value = rng.uniform(0.5, 1.5, shape)
    elif len(shape) >= 2:
        value = rng.standard_normal(shape) * gain * np.sqrt(1 / np.prod(shape[1:]))
    elif last == "bias":
        value = 0.1 * rng.standard_normal(shape)
    else:
        value = 1.0 + 0.1 * rng.standard_normal(shape)
    return value.astype(np.float32)


def recipe_state_dict(
    keys: Union[str, Path, Iterable[Tuple]], salt: str = "", gain: float = 1.0
) -> Dict[str, torch.Tensor]:
    """A full state dict by the recipe, from a ``*_keys.tsv`` path or (key, shape[, dtype]) rows."""
    entries = read_keys(keys) if isinstance(keys, (str, Path)) else keys
    return {entry[0]: torch.from_numpy(recipe_value(entry[0], entry[1], salt, gain)) for entry in entries}


def recipe_input(name: str, shape: Sequence[int]) -> torch.Tensor:
    """The fixture input: standard normals drawn with the key ``"input:" + name``."""
    return torch.from_numpy(_rng("input:" + name).standard_normal(tuple(shape)).astype(np.float32))


def relative_error(ours, reference) -> float:
    """||ours - reference|| / ||reference||, in float64."""
    ours = np.asarray(ours.detach() if isinstance(ours, torch.Tensor) else ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


def reference_checkpoint(state: Dict[str, torch.Tensor], fmt: str) -> dict:
    """Reference-key weights as that reference saves them: ``official`` (liutinglt/CE2P, CDGNet, CSENet) flat with
    a ``module.`` prefix, ``schp`` the same under ``state_dict``, ``sssegmentation`` ``{'model': state}``."""
    if fmt == "sssegmentation":
        return {"model": dict(state)}
    prefixed = {"module." + key: value for key, value in state.items()}
    if fmt == "official":
        return prefixed
    if fmt == "schp":
        return {"state_dict": prefixed}
    raise ValueError(f"unknown reference checkpoint format {fmt!r}")


def load_reference_weights(name: str, directory: Union[str, Path], fmt: str = "official", state=None):
    """Config ``name`` in eval mode, loaded through ``humanparse.load_weights`` (strict, so the converter runs) from
    a file in the reference's format ``fmt`` holding ``state`` (default: the recipe on ``{name}_keys.tsv``).

    Returns (model, LoadReport); the report is checked to name ``fmt`` and to have filled every model entry.
    """
    import humanparse

    if state is None:
        state = recipe_state_dict(FIXTURES / f"{name}_keys.tsv")
    path = Path(directory) / f"{name}.pth"
    torch.save(reference_checkpoint(state, fmt), path)
    model = humanparse.build_model(name).eval()
    report = humanparse.load_weights(model, str(path))
    assert report.format == fmt and report.ok, report
    assert report.converted == len(model.state_dict()), report
    return model, report


def fixture_outputs(model: torch.nn.Module, name: str):
    """The model's outputs (no grad) on fixture ``name``'s input, checked to be the recipe input; and the fixture."""
    fixture = np.load(FIXTURES / f"{name}.npz")
    images = recipe_input(name, fixture["input"].shape)
    np.testing.assert_array_equal(images.numpy(), fixture["input"])
    with torch.no_grad():
        return model(images), fixture
