"""CDGNet against the live official code's outputs (tests/fixtures/parity/cdgnet_resnet101_lip.npz).

Weights come from the parity recipe in the official key space, saved as the official checkpoints are (flat,
``module.`` prefix), and go through `convert_checkpoint`.
"""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from humanparse.configs import get_config
from humanparse.models import cdgnet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
NAME = "cdgnet_resnet101_lip"
# ours -> the official output it mirrors
OUTPUTS = {
    "seg_aux": "seg0",
    "seg_decoder": "seg1",
    "seg": "seg2",
    "edge": "edge",
    "hpred": "hpred",
    "wpred": "wpred",
}


def _recipe_value(key, shape):
    # Private copy of the recipe in tests/fixtures/parity/README.md (SALT "", GAIN 1.0).
    rng = np.random.Generator(np.random.PCG64(zlib.crc32(key.encode("utf-8"))))
    last = key.rsplit(".", 1)[-1]
    if last == "num_batches_tracked":
        return np.zeros(shape, np.int64)
    if last == "running_mean":
        value = 0.1 * rng.standard_normal(shape)
    elif last == "running_var":
        value = rng.uniform(0.5, 1.5, shape)
    elif len(shape) >= 2:
        value = rng.standard_normal(shape) * np.sqrt(1 / np.prod(shape[1:]))
    elif last == "bias":
        value = 0.1 * rng.standard_normal(shape)
    else:
        value = 1.0 + 0.1 * rng.standard_normal(shape)
    return value.astype(np.float32)


def _official_checkpoint(keys_file: Path):
    state = {}
    for line in keys_file.read_text().splitlines():
        key, shape, _ = line.split("\t")
        shape = tuple(int(s) for s in shape.strip("()").split(",") if s.strip())
        state["module." + key] = torch.from_numpy(_recipe_value(key, shape))
    return state


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    reference = np.load(FIXTURES / f"{NAME}.npz")
    path = tmp_path_factory.mktemp("cdgnet") / "LIP_epoch_149.pth"
    torch.save(_official_checkpoint(FIXTURES / f"{NAME}_keys.tsv"), path)
    model = cdgnet.build(get_config(NAME)).eval()
    model.load_state_dict(cdgnet.convert_checkpoint(torch.load(path, weights_only=True)), strict=True)
    with torch.no_grad():
        outputs = model(torch.from_numpy(reference["input"]))
    return outputs, reference


@pytest.mark.parametrize("ours", list(OUTPUTS))
def test_cdgnet_outputs_match_the_official_code(parity, ours):
    outputs, reference = parity
    expected = reference[OUTPUTS[ours]]
    assert outputs[ours].shape == expected.shape
    assert float(np.linalg.norm(outputs[ours].numpy() - expected) / np.linalg.norm(expected)) <= 1e-4


def test_cdgnet_class_distribution_length_is_the_hard_coded_118(parity):
    outputs, _ = parity  # a 193x193 input: the maps are 49x49, the class distributions stay at 473 // 4
    assert outputs["seg"].shape == (1, 20, 49, 49)
    assert outputs["hpred"].shape == outputs["wpred"].shape == (1, 20, 118)
