"""Official CE2P / SCHP network: sizes, key layout, and the InPlace-ABN checkpoint converter."""

import pytest
import torch
import torch.nn.functional as F

from humanparse.configs import get_config
from humanparse.models import ce2p_official


def _small(name="schp_resnet101_lip"):
    config = get_config(name).override(["model.width=0.125", "model.stage_blocks=[1,1,1,1]"])
    return ce2p_official.build(config)


def test_full_size_matches_the_reference_parameter_count():
    # 66,723,928: SCHP's AugmentCE2P resnet101(num_classes=20), counted from the live reference
    with torch.device("meta"):
        model = ce2p_official.build(get_config("schp_resnet101_lip"))
    assert sum(p.numel() for p in model.parameters()) == 66_723_928
    state = model.state_dict()
    assert tuple(state["context_encoding.bottleneck.0.weight"].shape) == (512, 4096, 3, 3)
    assert tuple(state["decoder.conv3.0.weight"].shape) == (256, 304, 1, 1)
    assert tuple(state["fushion.0.weight"].shape) == (256, 1024, 1, 1)
    assert tuple(state["fushion.3.weight"].shape) == (20, 256, 1, 1)
    assert tuple(state["backbone.layer1.0.downsample.0.weight"].shape) == (256, 128, 1, 1)


@pytest.mark.parametrize(("name", "classes"), [("schp_resnet101_atr", 18), ("schp_resnet101_pascal", 7)])
def test_class_count_follows_the_config(name, classes):
    with torch.device("meta"):
        model = ce2p_official.build(get_config(name)).eval()
        out = model(torch.empty(1, 3, 512, 512))
    assert out["seg"].shape == out["seg_stage1"].shape == (1, classes, 128, 128)
    assert out["edge"].shape == (1, 2, 128, 128)


def test_small_model_outputs_and_gradients():
    torch.manual_seed(0)
    model = _small().train()
    out = model(torch.randn(2, 3, 65, 49))
    assert set(out) == {"seg", "seg_stage1", "edge"}
    assert out["seg"].shape == out["seg_stage1"].shape == (2, 20, 17, 13)
    assert out["edge"].shape == (2, 2, 17, 13)
    label = torch.randint(0, 20, (2, 65, 49))
    loss = sum(
        F.cross_entropy(F.interpolate(out[k], size=(65, 49), mode="bilinear", align_corners=True), label)
        for k in ("seg", "seg_stage1")
    )
    loss = loss + out["edge"].square().mean()
    loss.backward()
    without_grad = [
        n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert without_grad == []


def _reference_state(model, names):
    """A reference-layout state dict (InPlace-ABN: no num_batches_tracked) with the given head names."""
    ours = model.state_dict()
    norms = {k.rsplit(".", 1)[0] for k in ours if k.endswith(".running_mean")}
    state = {}
    for key, value in ours.items():
        if key.endswith("num_batches_tracked"):
            continue
        prefix, leaf = key.rsplit(".", 1)
        if prefix.startswith("backbone."):
            prefix = prefix.removeprefix("backbone.")
        elif prefix in norms:
            prefix = prefix.removesuffix(
                ".0"
            )  # the BN of our BN + LeakyReLU pair is the InPlace-ABN itself there
        head, _, rest = prefix.partition(".")
        state[f"module.{names.get(head, head)}.{rest}.{leaf}" if rest else f"module.{head}.{leaf}"] = (
            torch.randn_like(value)
        )
    return state


_SCHP = {"context_encoding": "context_encoding", "edge": "edge", "decoder": "decoder", "fushion": "fushion"}
_CE2P = {"context_encoding": "layer5", "edge": "edge_layer", "decoder": "layer6", "fushion": "layer7"}


@pytest.mark.parametrize("names", [_SCHP, _CE2P], ids=["schp", "ce2p"])
def test_converter_maps_both_reference_layouts(names):
    model = _small()
    reference = _reference_state(model, names)
    converted = ce2p_official.convert_checkpoint(reference)
    assert set(converted) == set(model.state_dict())
    model.load_state_dict(converted, strict=True)
    prefix = "module." + names["fushion"]
    assert torch.equal(converted["fushion.1.0.weight"], reference[prefix + ".1.weight"].abs() + 1e-5)
    assert torch.equal(converted["fushion.1.0.bias"], reference[prefix + ".1.bias"])
    assert torch.equal(converted["backbone.bn1.weight"], reference["module.bn1.weight"].abs() + 1e-5)
    assert torch.equal(converted["backbone.layer1.0.conv1.weight"], reference["module.layer1.0.conv1.weight"])
    assert torch.equal(
        converted["decoder.conv3.3.0.running_var"],
        reference[f"module.{names['decoder']}.conv3.3.running_var"],
    )
    assert int(converted["edge.conv1.1.0.num_batches_tracked"]) == 0


def test_converter_leaves_plain_batchnorm_checkpoints_alone():
    model = _small()
    ours = {"module." + k: v for k, v in model.state_dict().items()}
    converted = ce2p_official.convert_checkpoint(ours)
    assert set(converted) == set(model.state_dict())
    assert all(torch.equal(converted[k], v) for k, v in model.state_dict().items())
