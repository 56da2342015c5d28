"""CSENet against the official code's outputs (tests/fixtures/parity/csenet_resnet101_lip.npz).

Weights come from the parity recipe in the official key space, saved as the official checkpoints are (flat,
``module.`` prefix), and go through `convert_checkpoint`.
"""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from humanparse.configs import get_config
from humanparse.models import csenet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
NAME = "csenet_resnet101_lip"
# ours -> the official output it mirrors
OUTPUTS = {
    "seg_aux": "seg1",
    "seg_decoder": "seg2",
    "seg": "seg3",
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
    path = tmp_path_factory.mktemp("csenet") / "LIP_epoch_Best.pth"
    torch.save(_official_checkpoint(FIXTURES / f"{NAME}_keys.tsv"), path)
    model = csenet.build(get_config(NAME)).eval()
    model.load_state_dict(csenet.convert_checkpoint(torch.load(path, weights_only=True)), strict=True)
    with torch.no_grad():
        outputs = model(torch.from_numpy(reference["input"]))
    return outputs, reference


def _relative_error(ours, reference):
    return float(np.linalg.norm(ours - reference) / np.linalg.norm(reference))


@pytest.mark.parametrize("ours", ["seg_aux", "hpred", "wpred"])
def test_csenet_outputs_before_the_flow_alignment_match_the_official_code(parity, ours):
    outputs, reference = parity
    assert outputs[ours].shape == reference[OUTPUTS[ours]].shape
    assert _relative_error(outputs[ours].numpy(), reference[OUTPUTS[ours]]) <= 1e-4


@pytest.mark.parametrize("ours", ["seg_decoder", "seg", "edge"])
def test_csenet_outputs_after_the_flow_alignment_match_the_official_code(parity, ours):
    outputs, reference = parity
    assert outputs[ours].shape == reference[OUTPUTS[ours]].shape
    # With the recipe weights the flows are large and the four SPFlt warps amplify float32 noise about 400x
    # (a 1e-6 input perturbation moves these outputs by 4e-4); the official code itself, run here, is 5e-4
    # (1 thread) to 8e-4 (2 threads) from this fixture, while it and this model agree bit for bit.
    assert _relative_error(outputs[ours].numpy(), reference[OUTPUTS[ours]]) <= 2e-3


def test_csenet_shapes_at_473(parity):
    outputs, _ = parity
    assert outputs["seg"].shape == (1, 20, 119, 119)
    assert outputs["seg_aux"].shape == (1, 20, 30, 30)
    assert outputs["hpred"].shape == outputs["wpred"].shape == (1, 20, 118)


def test_csenet_convert_checkpoint_accepts_both_prefixes():
    state = {
        "module.layer3.0.conv1.weight": 1,
        "bn1.weight": 2,
        "module.seg1.1.0.weight": 3,
        "CDGNet.gamma": 4,
    }
    assert csenet.convert_checkpoint(state) == {
        "backbone.layer3.0.conv1.weight": 1,
        "backbone.bn1.weight": 2,
        "seg1.1.0.weight": 3,
        "CDGNet.gamma": 4,
    }
