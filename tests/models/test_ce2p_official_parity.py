"""Official CE2P and SCHP against their live reference networks (tests/fixtures/parity/{schp,ce2p_official}_*.npz).

Recipe weights in each reference's key space, with every third channel of every InPlace-ABN scale negated (the
references use |w| + eps), saved in each reference's checkpoint format and converted by `convert_checkpoint`.
"""

import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from humanparse.configs import get_config
from humanparse.models import ce2p_official

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
# fixture -> (checkpoint wrapper, our output -> the reference output it mirrors)
CASES = {
    "schp_resnet101_lip": (
        "state_dict",
        {"seg": "fusion_result", "seg_stage1": "parsing_result", "edge": "edge_result"},
    ),
    "ce2p_official_resnet101_lip": (None, {"seg": "seg2", "seg_stage1": "seg1", "edge": "edge"}),
}


def _recipe_value(key, shape):
    # Private copy of the recipe in tests/fixtures/parity/README.md (SALT "", GAIN 1.0).
    rng = np.random.Generator(np.random.PCG64(zlib.crc32(key.encode("utf-8"))))
    last = key.rsplit(".", 1)[-1]
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


def reference_checkpoint(name, negate_scales=True):
    """The fixture's weights as the reference saves them: flat ``module.`` keys, SCHP inside ``state_dict``."""
    entries = []
    for line in (FIXTURES / f"{name}_keys.tsv").read_text().splitlines():
        key, shape, _ = line.split("\t")
        entries.append((key, tuple(int(s) for s in shape.strip("()").split(",") if s.strip())))
    norms = {key.rsplit(".", 1)[0] for key, _ in entries if key.endswith(".running_mean")}
    state = {}
    for key, shape in entries:
        value = _recipe_value(key, shape)
        prefix, leaf = key.rsplit(".", 1)
        if negate_scales and leaf == "weight" and prefix in norms:
            value[::3] *= -1
        state["module." + key] = torch.from_numpy(value)
    wrapper = CASES[name][0]
    return {wrapper: state} if wrapper else state


def _run(name, checkpoint, keep_signs=False):
    state = ce2p_official.convert_checkpoint(checkpoint.get("state_dict", checkpoint))
    if keep_signs:  # what a converter without the abs would load
        for key in [
            k for k in state if k.endswith(".weight") and k[: -len("weight")] + "running_mean" in state
        ]:
            state[key][::3] *= -1
    model = ce2p_official.build(get_config(name)).eval()
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        return model(torch.from_numpy(np.load(FIXTURES / f"{name}.npz")["input"]))


def _rel_err(ours, expected):
    return float(np.linalg.norm(ours.numpy() - expected) / np.linalg.norm(expected))


@pytest.fixture(scope="module", params=list(CASES))
def parity(request, tmp_path_factory):
    name = request.param
    path = tmp_path_factory.mktemp(name) / "checkpoint.pth"
    torch.save(reference_checkpoint(name), path)
    outputs = _run(name, torch.load(path, weights_only=True))
    return name, outputs, np.load(FIXTURES / f"{name}.npz")


def test_outputs_match_the_reference_code(parity):
    name, outputs, reference = parity
    for ours, theirs in CASES[name][1].items():
        assert outputs[ours].shape == reference[theirs].shape
        assert _rel_err(outputs[ours], reference[theirs]) <= 1e-4, (name, ours)


def test_the_fixture_exercises_the_absolute_scale():
    # loading the negated InPlace-ABN scales with their signs moves the output far from the reference's
    name = "schp_resnet101_lip"
    outputs = _run(name, reference_checkpoint(name), keep_signs=True)
    assert _rel_err(outputs["seg"], np.load(FIXTURES / f"{name}.npz")["fusion_result"]) > 0.05


@pytest.mark.parametrize("name", list(CASES))
def test_reference_checkpoints_load_through_load_weights(name, tmp_path):
    import humanparse

    path = tmp_path / "reference.pth"
    torch.save(reference_checkpoint(name), path)
    model = ce2p_official.build(get_config(name)).eval()
    humanparse.load_weights(model, str(path))
    reference = np.load(FIXTURES / f"{name}.npz")
    with torch.no_grad():
        seg = model(torch.from_numpy(reference["input"]))["seg"]
    expected = CASES[name][1]["seg"]
    assert _rel_err(seg, reference[expected]) <= 1e-4
