"""Official CE2P and SCHP against their live reference networks (tests/fixtures/parity/{schp,ce2p_official}_*.npz).

Recipe weights in each reference's key space, with every third channel of every InPlace-ABN scale negated (the
references use |w| + eps), saved in each reference's checkpoint format and read back through
`humanparse.load_weights`, so `convert_checkpoint` runs on them.
"""

import pytest
import torch
from parity_recipe import FIXTURES, fixture_outputs, load_reference_weights, recipe_state_dict, relative_error

# fixture -> (checkpoint format, our output -> the reference output it mirrors)
CASES = {
    "schp_resnet101_lip": (
        "schp",
        {"seg": "fusion_result", "seg_stage1": "parsing_result", "edge": "edge_result"},
    ),
    "ce2p_official_resnet101_lip": ("official", {"seg": "seg2", "seg_stage1": "seg1", "edge": "edge"}),
}


def negated_scale_weights(name):
    """The recipe on the fixture's keys with every third channel of every InPlace-ABN scale negated."""
    state = recipe_state_dict(FIXTURES / f"{name}_keys.tsv")
    for key in [key for key in state if key.endswith(".running_mean")]:
        state[key[: -len("running_mean")] + "weight"][::3] *= -1
    return state


def _load(name, directory):
    model, _ = load_reference_weights(name, directory, CASES[name][0], negated_scale_weights(name))
    return model


@pytest.fixture(scope="module", params=list(CASES))
def parity(request, tmp_path_factory):
    name = request.param
    return (name, *fixture_outputs(_load(name, tmp_path_factory.mktemp(name)), name))


def test_outputs_match_the_reference_code(parity):
    name, outputs, reference = parity
    for ours, theirs in CASES[name][1].items():
        assert outputs[ours].shape == reference[theirs].shape
        assert relative_error(outputs[ours], reference[theirs]) <= 1e-4, (name, ours)


def test_the_fixture_exercises_the_absolute_scale(tmp_path):
    # loading the negated InPlace-ABN scales with their signs moves the output far from the reference's
    name = "schp_resnet101_lip"
    model = _load(name, tmp_path)
    with torch.no_grad():  # what a converter without the abs would load
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight[::3] *= -1
    outputs, reference = fixture_outputs(model, name)
    assert relative_error(outputs["seg"], reference["fusion_result"]) > 0.05
