"""No command writes over a file it reads, nor over a file of another kind (issue 19, cases 1-5): the one output
check of `humanparse.output_paths`, and each command that writes refusing before any work."""

from __future__ import annotations

import os

import pytest
import torch

from humanparse.cli import main
from humanparse.errors import ConfigError
from humanparse.output_paths import check_output_file, check_output_folder, input_files, same_file


def _checkpoint(path):
    torch.save({"w": torch.zeros(3)}, path)
    return path


def _bytes(path):
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------ the module
def test_same_file_by_path_link_and_inode(tmp_path):
    a = _checkpoint(tmp_path / "a.pth")
    (tmp_path / "sub").mkdir()
    os.link(a, tmp_path / "hard.pth")
    os.symlink(a, tmp_path / "soft.pth")
    assert same_file(a, tmp_path / "sub" / ".." / "a.pth")
    assert same_file(a, tmp_path / "hard.pth") and same_file(a, tmp_path / "soft.pth")
    assert not same_file(a, tmp_path / "absent.pth")


def test_an_output_or_its_sidecar_that_is_an_input_is_refused(tmp_path):
    weights = _checkpoint(tmp_path / "model.bin")
    with pytest.raises(ConfigError, match=r"\(its model.bin\) would overwrite the input"):
        check_output_file(tmp_path / "model.xml", option="--out", inputs=[weights], suffixes=[".xml"])
    os.link(weights, tmp_path / "linked.onnx")
    with pytest.raises(ConfigError, match="would overwrite the input"):
        check_output_file(tmp_path / "linked.onnx", option="--onnx", inputs=[weights])


def test_inputs_bring_their_sidecars(tmp_path):
    (tmp_path / "m.xml").write_text("<net/>")
    (tmp_path / "m.bin").write_bytes(b"\0" * 8)
    assert tmp_path / "m.bin" in input_files([tmp_path / "m.xml", None, "zoo_name"])
    with pytest.raises(ConfigError, match="would overwrite the input .*m.bin"):
        check_output_file(tmp_path / "m.bin", option="--out", inputs=[tmp_path / "m.xml"])


def test_suffix_folder_and_other_kinds_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="must end in .onnx"):
        check_output_file(tmp_path / "z.pth", option="--onnx", suffixes=[".onnx"])
    (tmp_path / "q.onnx").mkdir()
    with pytest.raises(ConfigError, match="it is a folder"):
        check_output_file(tmp_path / "q.onnx", option="--onnx", suffixes=[".onnx"])
    (tmp_path / "photo.json").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 64)
    with pytest.raises(ConfigError, match="is a JPEG image, not a JSON"):
        check_output_file(tmp_path / "photo.json", option="--out", suffixes=[".json"])
    (tmp_path / "old.json").write_text("{}")  # an earlier report is replaced
    assert check_output_file(tmp_path / "old.json", option="--out", suffixes=[".json"])
    (tmp_path / "other.bin").write_bytes(b"\0" * 8)  # a .bin without its .xml belongs to something else
    with pytest.raises(ConfigError, match="does not belong to an OpenVINO model"):
        check_output_file(tmp_path / "other.xml", option="--out", suffixes=[".xml"])


def test_a_non_empty_folder_is_refused_unless_overwriting(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train_id.txt").write_text("a\n")
    with pytest.raises(ConfigError, match="is not empty .*train_id.txt.*--overwrite"):
        check_output_folder(tmp_path / "d", option="--out", empty=True)
    assert check_output_folder(tmp_path / "d", option="--out")
    with pytest.raises(ConfigError, match="existing file"):
        check_output_folder(tmp_path / "d" / "train_id.txt", option="--out")


# ------------------------------------------------------------------------------------------------ the commands
def test_export_refuses_its_checkpoint_and_a_wrong_suffix(tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "ck.pth")
    before = _bytes(checkpoint)
    assert main(["export", "ce2p_tiny_synthetic", str(checkpoint), "--onnx", str(checkpoint)]) == 2
    assert "must end in .onnx" in capsys.readouterr().err
    named_onnx = _checkpoint(tmp_path / "ck.onnx")
    onnx_before = _bytes(named_onnx)
    assert main(["export", "ce2p_tiny_synthetic", str(named_onnx), "--onnx", str(named_onnx)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _bytes(checkpoint) == before and _bytes(named_onnx) == onnx_before
    (tmp_path / "q").mkdir()
    assert main(["export", "ce2p_tiny_synthetic", str(checkpoint), "--onnx", str(tmp_path / "q")]) == 2
    assert "it is a folder" in capsys.readouterr().err
    (tmp_path / "q.onnx").mkdir()
    assert main(["export", "ce2p_tiny_synthetic", str(checkpoint), "--onnx", str(tmp_path / "q.onnx")]) == 2
    assert "it is a folder" in capsys.readouterr().err
    assert main(["export", "ce2p_tiny_synthetic", str(checkpoint), "--onnx", "x.onnx", "--opset", "999"]) == 2
    assert "--opset 999: the ONNX exporter writes opsets 11 to" in capsys.readouterr().err


def test_test_refuses_a_report_over_its_checkpoint(tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "t.pth")
    before = _bytes(checkpoint)
    argv = ["test", "ce2p_tiny_synthetic", str(checkpoint), "--data-root", str(tmp_path), "--no-progress"]
    assert main(argv + ["--out", str(checkpoint)]) == 2
    assert "must end in .json" in capsys.readouterr().err
    os.link(checkpoint, tmp_path / "t.json")
    assert main(argv + ["--out", str(tmp_path / "t.json")]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _bytes(checkpoint) == before


def test_quantize_refuses_its_input_and_the_openvino_sidecar(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    weights = _checkpoint(tmp_path / "pytorch_model.bin")
    before = _bytes(weights)
    base = ["quantize", "ce2p_tiny_synthetic", str(weights), "--calib", str(tmp_path / "photos")]
    assert main(base + ["--out", str(tmp_path / "pytorch_model.xml")]) == 2
    assert "(its pytorch_model.bin) would overwrite the input" in capsys.readouterr().err
    onnx = _checkpoint(tmp_path / "ck.onnx")
    onnx_before = _bytes(onnx)
    base[2] = str(onnx)
    assert main(base + ["--out", str(onnx)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _bytes(weights) == before and _bytes(onnx) == onnx_before


def test_synth_refuses_a_dataset_folder_unless_overwrite(tmp_path, capsys):
    argv = ["synth", "--out", str(tmp_path / "d"), "--size", "32", "32", "--no-progress"]
    assert main(argv + ["--train", "3", "--val", "1"]) == 0
    ids = (tmp_path / "d" / "train_id.txt").read_text()
    assert main(argv + ["--train", "1", "--val", "1"]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "d" / "train_id.txt").read_text() == ids
    assert main(argv + ["--train", "1", "--val", "1", "--overwrite"]) == 0
    assert main(["synth", "--out", str(tmp_path / "e"), "--size", "100000", "100000"]) == 2
    assert "too large" in capsys.readouterr().err


def test_convert_refuses_its_input(tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "c.pth")
    before = _bytes(checkpoint)
    assert main(["convert", str(checkpoint), str(checkpoint), "--config", "ce2p_tiny_synthetic"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert _bytes(checkpoint) == before


def test_train_refuses_the_dataset_root_as_work_dir(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    argv = ["train", "ce2p_tiny_synthetic", "--data-root", str(tmp_path / "data")]
    assert main(argv + ["--work-dir", str(tmp_path / "data" / ".")]) == 2
    assert "is the input folder" in capsys.readouterr().err


def test_predict_refuses_an_out_folder_that_is_an_input_file(tmp_path, capsys):
    checkpoint = _checkpoint(tmp_path / "w.pth")
    assert main(["predict", "ce2p_tiny_synthetic", str(checkpoint), "x.jpg", "--out", str(checkpoint)]) == 2
    assert "is an existing file, not a folder" in capsys.readouterr().err


def test_an_onnx_input_brings_its_external_data(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        [weight],
    )
    model_path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(model_path), save_as_external_data=True, location="weights.data",
              size_threshold=0)  # fmt: skip
    assert tmp_path / "weights.data" in input_files([model_path])
    with pytest.raises(ConfigError, match="would overwrite the input .*weights.data"):
        check_output_file(tmp_path / "weights.data", option="--out", inputs=[model_path])
