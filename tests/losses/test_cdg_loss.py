"""CDGLoss and Lovász-softmax against the official CriterionAll (tests/fixtures/parity/cdg_loss.npz)."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from humanparse.configs import get_config
from humanparse.data.transforms.mixup import MIXUP_KEY
from humanparse.errors import ConfigError
from humanparse.losses import build_loss
from humanparse.losses.cdg import CDGLoss
from humanparse.losses.lovasz import lovasz_softmax
from humanparse.losses.mixup import MixupLoss, mixup_loss

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "parity" / "cdg_loss.npz"


@pytest.fixture(scope="module")
def reference():
    data = np.load(FIXTURE)
    tensors = {key: torch.from_numpy(data[key]) for key in data.files}
    outputs = {key: tensors[key] for key in ("seg_aux", "seg_decoder", "seg", "hpred", "wpred")}
    outputs["edge"] = tensors["edge_logits"]
    batch = {key: tensors[key] for key in ("label", "edge", "hgt", "wgt")}
    return outputs, batch, data


def _loss():
    return build_loss(get_config("csenet_resnet101_lip"))


@pytest.mark.parametrize("term", ["loss", "loss_parsing", "loss_edge", "loss_class_distribution"])
def test_cdg_loss_terms_match_the_official_criterion(reference, term):
    outputs, batch, data = reference
    losses = _loss()(outputs, batch)
    assert isinstance(_loss(), MixupLoss) and isinstance(_loss().loss, CDGLoss)  # CSENet's recipe has mixup
    expected = float(data[term])
    assert abs(float(losses[term]) - expected) <= 1e-5 * abs(expected)


def test_lovasz_softmax_matches_the_official_implementation(reference):
    outputs, batch, data = reference
    logits = F.interpolate(
        outputs["seg"], size=batch["label"].shape[-2:], mode="bilinear", align_corners=True
    )
    value = float(lovasz_softmax(F.softmax(logits, dim=1), batch["label"]))
    assert abs(value - float(data["lovasz_seg"])) <= 1e-5 * float(data["lovasz_seg"])


def test_lovasz_softmax_is_zero_for_a_perfect_prediction_and_skips_ignored_pixels():
    labels = torch.tensor([[[0, 1], [2, 255]]])
    perfect = F.one_hot(labels.clamp(max=2), 3).permute(0, 3, 1, 2).float()
    assert float(lovasz_softmax(perfect, labels)) == 0.0
    changed = perfect.clone()
    changed[0, :, 1, 1] = torch.tensor([0.2, 0.3, 0.5])  # only the ignored pixel differs
    assert float(lovasz_softmax(changed, labels)) == 0.0
    wrong = perfect.clone()
    wrong[0, :, 0, 0] = torch.tensor([0.0, 1.0, 0.0])
    assert float(lovasz_softmax(wrong, labels)) > 0.0


def test_mixup_loss_combines_each_term(reference):
    outputs, batch, _ = reference
    permuted = {key: value.flip(0) for key, value in batch.items()}
    loss = _loss()
    mixed = mixup_loss(loss, outputs, batch, permuted, 0.7)
    own, other = loss(outputs, batch), loss(outputs, permuted)
    assert set(mixed) == set(own)
    for key in own:
        assert torch.allclose(mixed[key], 0.7 * own[key] + 0.3 * other[key])
    assert not torch.allclose(own["loss"], other["loss"])


def test_built_loss_scores_a_batch_marked_as_mixed_against_both_targets(reference):
    outputs, batch, _ = reference
    permuted = {key: value.flip(0) for key, value in batch.items()}
    loss, plain = _loss(), CDGLoss(get_config("csenet_resnet101_lip"))
    unmarked = loss(outputs, batch)
    assert all(torch.equal(unmarked[key], value) for key, value in plain(outputs, batch).items())
    marked = loss(outputs, {**batch, MIXUP_KEY: {"lam": 0.7, "targets": permuted}})
    expected = mixup_loss(plain, outputs, batch, permuted, 0.7)
    assert all(torch.allclose(marked[key], value) for key, value in expected.items())
    assert not torch.allclose(marked["loss"], unmarked["loss"])
    no_mixup = get_config("csenet_resnet101_lip").override(["train.mixup_prob=0"])
    assert isinstance(build_loss(no_mixup), CDGLoss)


def test_cdg_loss_without_class_distribution_targets_says_which_setting(reference):
    outputs, batch, _ = reference
    with pytest.raises(ConfigError, match="class_distribution"):
        _loss()(outputs, {"label": batch["label"], "edge": batch["edge"]})
