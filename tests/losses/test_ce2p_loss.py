"""CE2PLoss: the edge class weights, both edge reductions, ignore handling and upsampling, by direct formulas."""

import torch
import torch.nn.functional as F

import humanparse
from humanparse.losses import build_loss
from humanparse.losses.ce2p import CE2PLoss, edge_class_weights


def _batch(seed=0, size=(2, 21, 17)):
    generator = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 20, size, generator=generator)
    label[:, :3] = 255
    edge = (torch.rand(size, generator=generator) < 0.2).long()
    edge[:, -2:] = 255
    return {"label": label, "edge": edge}


def _outputs(seed=1, size=(6, 5)):
    generator = torch.Generator().manual_seed(seed)
    return {
        "seg": torch.randn(2, 20, *size, generator=generator),
        "seg_stage1": torch.randn(2, 20, *size, generator=generator),
        "edge": torch.randn(2, 2, *size, generator=generator),
    }


def test_edge_class_weights_count_only_valid_pixels():
    edge = torch.tensor([[0, 0, 0, 1, 255, 255]])
    assert torch.allclose(edge_class_weights(edge), torch.tensor([0.25, 0.75]))


def _reference_terms(outputs, batch, normalized, align_corners=False):
    """Per-pixel formulas, independent of F.cross_entropy's weight handling."""
    label, edge = batch["label"], batch["edge"]

    def up(x):
        return F.interpolate(x, size=label.shape[-2:], mode="bilinear", align_corners=align_corners)

    def plain_ce(logits):
        valid = label != 255
        logp = F.log_softmax(up(logits), 1)
        picked = logp.gather(1, label.clamp(max=19).unsqueeze(1)).squeeze(1)
        return -(picked[valid]).mean()

    valid = edge != 255
    n_pos, n_neg = (edge == 1).sum().double(), (edge == 0).sum().double()
    weights = torch.stack([n_pos, n_neg]) / (n_pos + n_neg)
    logp = F.log_softmax(up(outputs["edge"]).double(), 1)
    target = edge.clamp(max=1)
    nll = -logp.gather(1, target.unsqueeze(1)).squeeze(1)
    w = weights[target]
    edge_term = (w * nll)[valid].sum() / (w[valid].sum() if normalized else valid.sum())
    return plain_ce(outputs["seg_stage1"]), plain_ce(outputs["seg"]), edge_term


def test_normalised_and_unnormalised_edge_loss_follow_the_formulas():
    outputs, batch = _outputs(), _batch()
    for name, normalized in (("ce2p_resnet50os8_lip", True), ("ce2p_resnet50os8_voc", False)):
        config = humanparse.get_config(name)
        loss = build_loss(config)
        assert isinstance(loss, CE2PLoss)
        result = loss(outputs, batch)
        stage1, stage2, edge = _reference_terms(outputs, batch, normalized)
        assert torch.allclose(result["loss_seg_stage1"], stage1, rtol=1e-5)
        assert torch.allclose(result["loss_seg_stage2"], stage2, rtol=1e-5)
        assert torch.allclose(result["loss_edge"].double(), edge, rtol=1e-5)
        total = result["loss_seg_stage1"] + result["loss_seg_stage2"] + result["loss_edge"]
        assert torch.allclose(result["loss"], total)
    lip = build_loss(humanparse.get_config("ce2p_resnet50os8_lip"))(outputs, batch)["loss_edge"]
    voc = build_loss(humanparse.get_config("ce2p_resnet50os8_voc"))(outputs, batch)["loss_edge"]
    assert not torch.allclose(lip, voc)


def test_align_corners_is_taken_from_the_config():
    outputs, batch = _outputs(), _batch()
    config = humanparse.get_config("ce2p_resnet50os8_lip").override(["train.align_corners=true"])
    result = CE2PLoss(config)(outputs, batch)
    _, stage2, _ = _reference_terms(outputs, batch, True, align_corners=True)
    assert torch.allclose(result["loss_seg_stage2"], stage2, rtol=1e-5)


def test_loss_backpropagates_to_every_output():
    outputs = {k: v.requires_grad_() for k, v in _outputs().items()}
    build_loss(humanparse.get_config("ce2p_resnet50os8_lip"))(outputs, _batch())["loss"].backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in outputs.values())
