"""SegFormer's decode head folded for inference (`models/prepare/segformer_head.py`) gives the head's outputs:
B0/B2/B4-shaped networks with seeded weights (non-trivial BatchNorm statistics), odd input sizes."""

from __future__ import annotations

import copy

import pytest
import torch
from segformer_weights import hf_state_dict, seeded_input, spec_of
from torch import nn

from humanparse.models.prepare import (
    FoldedMLPHead,
    count_batchnorms,
    fold_mlp_heads,
    prepare_for_inference,
    to_input,
)
from humanparse.models.segformer import AllMLPHead, SegFormer, convert_checkpoint
from humanparse.models.weights import load_state

# (variant, input shape, weight seed, input seed): odd sizes, so stages 2-4 upsample by non-integer factors
CASES = [
    ("b0", (2, 3, 67, 93), 30, 40),
    ("b2", (1, 3, 75, 53), 31, 41),
    ("b4", (1, 3, 61, 83), 32, 42),
]


def _seeded_segformer(variant: str, seed: int) -> SegFormer:
    spec = spec_of(variant)
    model = SegFormer(spec, 18).eval()
    assert load_state(model, convert_checkpoint(hf_state_dict(spec, 18, seed)), strict=True).ok
    return model


def _relative(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


@pytest.mark.parametrize("variant,shape,weight_seed,input_seed", CASES, ids=[case[0] for case in CASES])
def test_the_folded_head_equals_the_head(variant, shape, weight_seed, input_seed):
    model = _seeded_segformer(variant, weight_seed)
    with torch.no_grad():
        features = model.backbone(seeded_input(shape, input_seed))
        expected = model.decode_head(features)
        folded = FoldedMLPHead.from_head(model.decode_head)
        actual = folded(features)
    assert actual.shape == expected.shape
    assert float(expected.std()) > 0.1  # the seeded head's logits are not flat
    assert _relative(actual, expected) < 1e-5
    # one Linear per stage (the deepest carries the constant), no fuse conv, no BatchNorm
    assert [linear.in_features for linear in folded.projections] == list(model.spec.hidden_sizes)
    assert count_batchnorms(folded) == 0


@pytest.mark.parametrize(
    "variant,shape,weight_seed,input_seed", CASES[:2], ids=[case[0] for case in CASES[:2]]
)
def test_prepare_for_inference_folds_the_head_of_a_copy(variant, shape, weight_seed, input_seed):
    model = _seeded_segformer(variant, weight_seed)
    images = seeded_input(shape, input_seed)
    with torch.no_grad():
        expected = model(images)["seg"]
    prepared = prepare_for_inference(model, torch.zeros(1, 3, 65, 65))
    assert isinstance(prepared.decode_head, FoldedMLPHead)
    assert isinstance(model.decode_head, AllMLPHead), "the original model must be left as it was"
    with torch.inference_mode():
        actual = prepared(to_input(images))["seg"]
    assert _relative(actual, expected) < 1e-5
    unfolded = prepare_for_inference(model, torch.zeros(1, 3, 65, 65), fold_heads=False)
    assert isinstance(unfolded.decode_head, AllMLPHead)


def test_folding_keeps_dtype_and_refuses_a_training_model():
    model = _seeded_segformer("b0", 33)
    with pytest.raises(ValueError, match="eval mode"):
        fold_mlp_heads(copy.deepcopy(model).train())
    double = copy.deepcopy(model).double()
    assert fold_mlp_heads(double) == 1
    assert all(parameter.dtype == torch.float64 for parameter in double.parameters())
    assert fold_mlp_heads(nn.Sequential(nn.Conv2d(3, 3, 1)).eval()) == 0
