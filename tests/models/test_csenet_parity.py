"""CSENet against the official code's outputs (tests/fixtures/parity/csenet_resnet101_lip.npz).

The fixture's recipe weights go through an official-format checkpoint (flat, ``module.`` keys) and
`humanparse.load_weights`, which runs `csenet.convert_checkpoint`.
"""

import pytest
from parity_recipe import fixture_outputs, load_reference_weights, relative_error

from humanparse.models import csenet

NAME = "csenet_resnet101_lip"
# ours -> the official output it mirrors (the official forward returns seg1, seg2, seg3, edge, hpred, wpred)
BEFORE_FLOW = {"seg_aux": "seg1", "hpred": "hpred", "wpred": "wpred"}
AFTER_FLOW = {"seg_decoder": "seg2", "seg": "seg3", "edge": "edge"}


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    model, _ = load_reference_weights(NAME, tmp_path_factory.mktemp("csenet"))
    return fixture_outputs(model, NAME)


@pytest.mark.parametrize("ours, theirs", BEFORE_FLOW.items())
def test_csenet_outputs_before_the_flow_alignment_match_the_official_code(parity, ours, theirs):
    outputs, reference = parity
    assert outputs[ours].shape == reference[theirs].shape
    assert relative_error(outputs[ours], reference[theirs]) <= 1e-4


@pytest.mark.parametrize("ours, theirs", AFTER_FLOW.items())
def test_csenet_outputs_after_the_flow_alignment_match_the_official_code(parity, ours, theirs):
    outputs, reference = parity
    assert outputs[ours].shape == reference[theirs].shape
    # With the recipe weights the flows are large and the four SPFlt warps amplify float32 noise about 400x
    # (a 1e-6 input perturbation moves these outputs by 4e-4); the official code itself, run here, is 5e-4
    # (1 thread) to 8e-4 (2 threads) from this fixture, while it and this model agree bit for bit.
    assert relative_error(outputs[ours], reference[theirs]) <= 2e-3


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
