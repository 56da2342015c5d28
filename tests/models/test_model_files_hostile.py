"""Wrong and hostile model files (issue 19): one line saying what the file is, never torch's advice to load with
weights_only=False, stored configs checked as command-line ones, native loader errors cut to their meaning."""

from __future__ import annotations

import json
import os
import zipfile

import pytest
import torch

from humanparse.configs import get_config
from humanparse.errors import CheckpointError
from humanparse.models.checkpoint_io import read_checkpoint

onnx = pytest.importorskip("onnx")


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_a_refused_pickle_never_shows_the_weights_only_advice(tmp_path):
    torch.save({"a": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(tmp_path / "evil.pth")
    message = str(error.value)
    assert "weights_only" not in message and "\n" not in message
    assert "posix.system" in message or "os.system" in message


def _onnx_file(path, metadata=None):
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["image"], ["seg"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("seg", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    model = helper.make_model(graph)
    for key, value in (metadata or {}).items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.save(model, str(path))
    return path


def test_wrong_files_given_as_weights_say_what_they_are(tmp_path):
    (tmp_path / "notes.pth").write_text("these are not weights\n")
    _onnx_file(tmp_path / "model.pth")
    with zipfile.ZipFile(tmp_path / "archive.pth", "w") as archive:
        archive.writestr("readme.txt", "hello")
    for name, kind in (
        ("notes.pth", "it is a text file"),
        ("model.pth", "it is an ONNX model"),
        ("archive.pth", "it is a zip archive that is not a PyTorch checkpoint"),
    ):
        with pytest.raises(CheckpointError, match=kind) as error:
            read_checkpoint(tmp_path / name)
        assert "\n" not in str(error.value) and name in str(error.value)


@pytest.mark.parametrize(
    "stored, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("[1, 2, 3]", "a config must be a mapping"),
        (None, "must be at most 8192"),  # eval.input_size 100000 x 100000
    ],
)
def test_stored_configs_are_checked_and_name_the_file(tmp_path, stored, message):
    from humanparse.inference.metadata import CONFIG_KEY, config_from_model_file

    if stored is None:
        config = get_config("ce2p_tiny_synthetic").to_dict()
        config["eval"]["input_size"] = [100000, 100000]
        stored = json.dumps(config)
    path = _onnx_file(tmp_path / "m.onnx", {CONFIG_KEY: stored})
    with pytest.raises(CheckpointError) as error:
        config_from_model_file(path)
    assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


def test_openvino_load_errors_keep_the_first_meaningful_line(tmp_path):
    pytest.importorskip("openvino")
    from humanparse.inference.runtimes import openvino_forward

    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<?xml version="1.0"?>\n<net name="x" version="11"><layers><layer id="0" type="Foo"/></layers></net>'
    )
    (tmp_path / "bad.bin").write_bytes(b"")
    with pytest.raises(CheckpointError) as error:
        openvino_forward(bad)
    message = str(error.value)
    assert "\n" not in message and "Exception from" not in message and ".cpp" not in message
    assert "OpenVINO cannot load it: " in message and message.split("OpenVINO cannot load it: ")[1]


def test_file_kinds_are_told_apart(tmp_path):
    from humanparse.file_kinds import describe

    torch.save({"w": torch.zeros(2)}, tmp_path / "a.pth")
    (tmp_path / "e").write_bytes(b"")
    (tmp_path / "x.xml").write_text('<?xml version="1.0"?><net/>')
    assert describe(tmp_path / "a.pth") == "a PyTorch checkpoint (zip)"
    assert describe(tmp_path / "e") == "an empty file"
    assert describe(tmp_path / "x.xml") == "an XML file"
    assert describe(_onnx_file(tmp_path / "m.onnx")) == "an ONNX model"
