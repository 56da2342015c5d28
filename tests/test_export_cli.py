"""`humanparse export`: a checkpoint to a verified ONNX file, and user errors without a traceback."""

import numpy as np
import onnxruntime
import torch

from humanparse.cli import main
from humanparse.configs import get_config
from humanparse.models.builder import build_model

SMALL = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]"]


def test_export_command_writes_a_dynamic_onnx_with_labels(tmp_path, capsys):
    torch.manual_seed(0)
    model = build_model(get_config("schp_resnet101_lip").override(SMALL)).eval()
    checkpoint = tmp_path / "schp.pth"
    torch.save(model.state_dict(), checkpoint)
    out = tmp_path / "schp.onnx"
    argv = ["export", "schp_resnet101_lip", str(checkpoint), "--onnx", str(out), "--input-size", "65", "81"]
    assert main(argv + ["--dynamic", "--with-argmax", "--set", *SMALL]) == 0
    assert "seg relative error" in capsys.readouterr().out

    image = torch.randn(2, 3, 49, 97)
    seg, labels = onnxruntime.InferenceSession(str(out)).run(None, {"image": image.numpy()})
    with torch.no_grad():
        expected = model(image)["seg"].numpy()
    assert seg.shape == expected.shape == (2, 20, 13, 25) and labels.shape == (2, 49, 97)
    assert np.linalg.norm(seg - expected) / np.linalg.norm(expected) <= 1e-4


def test_export_command_reports_a_missing_checkpoint(tmp_path, capsys):
    argv = ["export", "schp_resnet101_lip", str(tmp_path / "absent.pth"), "--onnx", str(tmp_path / "x.onnx")]
    assert main(argv + ["--set", *SMALL]) == 2
    assert "absent.pth" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
