"""CSENet structure: parameter count, key layout, the (width, height) quirk, a small model's forward/backward."""

import torch

from humanparse.configs import get_config
from humanparse.losses.cdg import CDGLoss
from humanparse.models import csenet


def _small_config(input_size=(64, 96)):
    config = get_config("csenet_resnet101_lip")
    config.model.width = 0.125
    config.model.stage_blocks = (1, 1, 1, 1)
    config.model.input_size = input_size
    return config


def test_csenet_full_size_matches_official_counts():
    with torch.device("meta"):
        model = csenet.build(get_config("csenet_resnet101_lip"))
    assert sum(p.numel() for p in model.parameters()) == 102_883_108
    assert sum(p.numel() for p in model.backbone.parameters()) == 42_623_936
    state = model.state_dict()
    assert len(state) == 1053
    # ABN nested in a Sequential, as the official InPlaceABNSync function builds it
    assert "seg1.1.0.weight" in state and "Attention.conv2.3.0.running_var" in state
    assert tuple(state["CDGNet.gamma"].shape) == (20,)


def test_csenet_class_distribution_length_follows_built_width_and_height_swapped():
    model = csenet.build(_small_config(input_size=(64, 96))).eval()
    # official: HeightWidthAttention(size=[img_width // 4, img_height // 4]) unpacked as (h, w)
    assert model.CDGNet.rowpool.output_size == (24, 1)
    assert model.CDGNet.colpool.output_size == (1, 16)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 57, 81))
    assert out["hpred"].shape == (1, 20, 24) and out["wpred"].shape == (1, 20, 16)
    assert out["seg"].shape == (1, 20, 15, 21)
    assert out["seg_decoder"].shape == (1, 20, 15, 21)
    assert out["edge"].shape == (1, 2, 15, 21)
    assert out["seg_aux"].shape == (1, 20, 4, 6)


def test_csenet_small_model_trains_through_the_cdg_loss():
    torch.manual_seed(0)
    config = _small_config(input_size=(64, 64))
    model = csenet.build(config).train()
    images = torch.randn(2, 3, 64, 64)
    label = torch.randint(0, 20, (2, 64, 64))
    label[:, :5] = 255
    batch = {
        "label": label,
        "edge": torch.randint(0, 2, (2, 64, 64)),
        "hgt": torch.rand(2, 20, 64),
        "wgt": torch.rand(2, 20, 64),
    }
    outputs = model(images)
    assert set(outputs) == {"seg", "seg_decoder", "seg_aux", "edge", "hpred", "wpred"}
    losses = CDGLoss(config)(outputs, batch)
    losses["loss"].backward()
    assert torch.isfinite(losses["loss"])
    missing = [
        name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert missing == []
