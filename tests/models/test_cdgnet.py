"""CDGNet structure: parameter count, key layout, a small model's forward/backward."""

import torch

from humanparse.configs import get_config
from humanparse.losses.cdg import CDGLoss
from humanparse.models import cdgnet


def test_cdgnet_full_size_matches_official_counts():
    with torch.device("meta"):
        model = cdgnet.build(get_config("cdgnet_resnet101_lip"))
    assert sum(p.numel() for p in model.parameters()) == 80_936_854
    state = model.state_dict()
    assert len(state) == 776
    assert "layer5.stages.0.2.0.weight" in state and "layer6.conv3.3.0.running_mean" in state
    assert tuple(state["hwAttention.gamma"].shape) == (1,)


def test_cdgnet_shapes_at_473_on_meta():
    with torch.device("meta"):
        model = cdgnet.build(get_config("cdgnet_resnet101_lip")).eval()
        out = model(torch.empty(1, 3, 473, 473))
    assert out["seg"].shape == out["seg_decoder"].shape == (1, 20, 119, 119)
    assert out["seg_aux"].shape == (1, 20, 30, 30)
    assert out["edge"].shape == (1, 2, 119, 119)
    assert out["hpred"].shape == out["wpred"].shape == (1, 20, 118)


def test_cdgnet_small_model_trains_through_the_cdg_loss():
    torch.manual_seed(0)
    config = get_config("cdgnet_resnet101_lip")
    config.model.width = 0.125
    config.model.stage_blocks = (1, 1, 1, 1)
    model = cdgnet.build(config).train()
    label = torch.randint(0, 20, (2, 64, 64))
    label[:, :, :4] = 255
    batch = {
        "label": label,
        "edge": torch.randint(0, 2, (2, 64, 64)),
        "hgt": torch.rand(2, 20, 64),
        "wgt": torch.rand(2, 20, 64),
    }
    outputs = model(torch.randn(2, 3, 64, 64))
    assert outputs["seg"].shape == (2, 20, 16, 16) and outputs["hpred"].shape == (2, 20, 118)
    losses = CDGLoss(config)(outputs, batch)
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"])
    missing = [
        name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert missing == []
