"""CDGNet against the live official code's outputs (tests/fixtures/parity/cdgnet_resnet101_lip.npz).

Recipe weights in the official key space, saved as the official checkpoints are (flat, ``module.`` prefix) and read
back through `humanparse.load_weights`, so `convert_checkpoint` runs on them.
"""

import pytest
from parity_recipe import fixture_outputs, load_reference_weights, relative_error

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


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    model, _ = load_reference_weights(NAME, tmp_path_factory.mktemp("cdgnet"))
    return fixture_outputs(model, NAME)


@pytest.mark.parametrize("ours", list(OUTPUTS))
def test_cdgnet_outputs_match_the_official_code(parity, ours):
    outputs, reference = parity
    expected = reference[OUTPUTS[ours]]
    assert outputs[ours].shape == expected.shape
    assert relative_error(outputs[ours], expected) <= 1e-4


def test_cdgnet_class_distribution_length_is_the_hard_coded_118(parity):
    outputs, _ = parity  # a 193x193 input: the maps are 49x49, the class distributions stay at 473 // 4
    assert outputs["seg"].shape == (1, 20, 49, 49)
    assert outputs["hpred"].shape == outputs["wpred"].shape == (1, 20, 118)
