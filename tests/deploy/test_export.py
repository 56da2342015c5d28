"""ONNX export: the exportable adaptive pool, and onnxruntime against PyTorch for CE2P, SCHP and CSENet."""

import pytest
import torch
from torch import nn

from humanparse.configs import get_config
from humanparse.deploy.export import MatrixAdaptiveAvgPool2d, export_onnx, exportable_copy, verify_onnx
from humanparse.errors import ConfigError
from humanparse.models.builder import build_model

SMALL = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


def _small_model(name, seed=0):
    torch.manual_seed(seed)
    return build_model(get_config(name).override(SMALL)).eval()


@pytest.mark.parametrize(
    ("output_size", "input_hw"),
    [
        ((2, 2), (7, 9)),
        ((3, 3), (7, 9)),
        ((6, 6), (5, 13)),
        ((30, 1), (7, 9)),
        ((1, 25), (7, 9)),
        ((None, 4), (5, 11)),
    ],
)
def test_matrix_pool_equals_adaptive_avg_pool(output_size, input_hw):
    x = torch.randn(2, 3, *input_hw)
    expected = nn.AdaptiveAvgPool2d(output_size)(x)
    assert torch.allclose(MatrixAdaptiveAvgPool2d(output_size)(x), expected, rtol=1e-5, atol=1e-6)


def test_exportable_copy_swaps_only_non_global_pools():
    model = _small_model("csenet_resnet101_lip")
    copied = exportable_copy(model)
    kinds = [type(m) for m in copied.modules()]
    assert nn.AdaptiveAvgPool2d in kinds and MatrixAdaptiveAvgPool2d in kinds
    assert all(m.output_size in (1, (1, 1)) for m in copied.modules() if type(m) is nn.AdaptiveAvgPool2d)
    assert any(
        type(m) is nn.AdaptiveAvgPool2d and m.output_size == (3, 3) for m in model.modules()
    )  # original untouched


@pytest.mark.parametrize("name", ["schp_resnet101_lip", "ce2p_resnet101os8_lip"])
def test_ce2p_exports_match_pytorch(name, tmp_path):
    model = _small_model(name)
    path = export_onnx(model, tmp_path / "model.onnx", (97, 129), verify=False)
    errors = verify_onnx(model, path, [(97, 129)])
    assert errors["seg"] <= 1e-4


def _well_conditioned_csenet():
    # Random CSENet weights give flows of hundreds of pixels and near-hard affinity softmaxes that amplify
    # float32 noise 100-10000x in PyTorch itself (see tests/fixtures/parity/README.md); shrink the flow generators
    # and make the edge argmax decisive so that a 1e-4 bound measures the export, not that conditioning.
    model = _small_model("csenet_resnet101_lip")
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "delta_gen" in name and parameter.dim() == 4 and parameter.shape[0] == 2:
                parameter.mul_(1e-3)
        model.edge.conv_edge[1].weight.mul_(1e-3)
        model.edge.conv_edge[1].bias.copy_(torch.tensor([-1.0, 1.0]))
    return model


def test_csenet_dynamic_export_matches_pytorch_at_two_sizes(tmp_path):
    model = _well_conditioned_csenet()
    path = export_onnx(
        model, tmp_path / "csenet.onnx", (97, 129), dynamic=True, with_argmax=True, verify=False
    )
    errors = verify_onnx(model, path, [(97, 129), (81, 65)], batch=2, with_argmax=True)
    assert errors["seg"] <= 1e-4
    assert errors["labels"] <= 1e-3


def test_static_export_rejects_another_size(tmp_path):
    model = _small_model("schp_resnet101_lip")
    path = export_onnx(model, tmp_path / "static.onnx", (65, 81), verify=False)
    from onnxruntime.capi.onnxruntime_pybind11_state import InvalidArgument

    with pytest.raises(InvalidArgument, match="dimensions"):
        verify_onnx(model, path, [(97, 129)])


def test_export_verifies_by_default_and_checks_the_opset(tmp_path):
    model = _small_model("schp_resnet101_lip")
    assert export_onnx(model, tmp_path / "ok.onnx", (65, 81), dynamic=True).is_file()
    assert export_onnx(
        model, tmp_path / "opset11.onnx", (65, 81), opset=11
    ).is_file()  # SCHP's issue #6 asks for 11
    with pytest.raises(ConfigError, match="opset"):
        export_onnx(model, tmp_path / "old.onnx", (65, 81), opset=9)


def test_csenet_needs_opset_16_for_grid_sample(tmp_path):
    with pytest.raises(ConfigError, match="grid_sampler.*16"):
        export_onnx(_small_model("csenet_resnet101_lip"), tmp_path / "csenet.onnx", (65, 81), opset=13)
