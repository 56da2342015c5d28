"""Deployment: int8 quantization (OpenVINO, ONNX Runtime), runtime backends in predict/test, self-describing
model files, the checked atomic export and the errors of missing extras."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from eval_fixtures import (
    RESIZE_RECIPE,
    cli_settings,
    make_lip_split,
    save_checkpoint,
    tiny_config,
    tiny_model,
)
from PIL import Image

from humanparse.cli import main
from humanparse.errors import CheckpointError, ConfigError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

MISSING = {"openvino": "openvino", "nncf": "openvino", "onnx": "onnx", "onnxruntime": "onnx"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny CE2P checkpoint, its fp32 ONNX export and a synthetic LIP split (val images double as photos)."""
    from humanparse.deploy.export import export_onnx

    root = tmp_path_factory.mktemp("deploy")
    config = tiny_config(RESIZE_RECIPE)
    checkpoint = save_checkpoint(config, root / "tiny.pth")
    data = make_lip_split(root / "data", val=5)
    fp32 = export_onnx(tiny_model(config), root / "fp32.onnx", (64, 64), config=config)
    return {"root": root, "config": config, "checkpoint": checkpoint, "data": data, "fp32": fp32}


def _labels(predictor, photos):
    return [predictor(path) for path in sorted(photos.glob("*.jpg"))]


def _agreement(a, b):
    return float(np.mean(np.concatenate([(x == y).ravel() for x, y in zip(a, b)])))


@pytest.fixture(scope="module", params=["openvino", "onnxruntime"])
def int8(request, setup):
    """`humanparse quantize` on 3 photos (2 held out) with --val, for each backend."""
    if request.param == "openvino":
        pytest.importorskip("openvino")
        pytest.importorskip("nncf")
    suffix = ".xml" if request.param == "openvino" else ".onnx"
    out = setup["root"] / f"int8_{request.param}{suffix}"
    argv = ["quantize", RESIZE_RECIPE, str(setup["checkpoint"]), "--calib", str(setup["data"] / "val_images")]
    argv += ["--num-images", "3", "--out", str(out), "--val", str(setup["data"]), "--no-progress"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv + cli_settings()) == 0
    return request.param, out, printed.getvalue()


def test_quantize_writes_an_int8_file_and_reports_agreement_and_miou(int8, setup):
    from humanparse.inference.metadata import config_from_model_file, read_metadata

    backend, out, printed = int8
    assert out.is_file() and (backend != "openvino" or out.with_suffix(".bin").is_file())
    assert "label agreement with fp32 on 2 held-out photos" in printed
    agreement = float(printed.split("held-out photos: ")[1].split("%")[0])
    assert 80.0 <= agreement <= 100.0
    assert "validation mIoU: fp32" in printed
    metadata = read_metadata(out)
    assert metadata["humanparse.precision"] == "int8"
    assert "Conv" in " ".join(json.loads(metadata["humanparse.quantization"])["kept_float"])  # the classifier
    assert config_from_model_file(out).to_dict() == setup["config"].to_dict()
    assert not [p for p in out.parent.iterdir() if ".tmp" in p.name]  # written atomically


def test_int8_predicts_without_a_config_and_scores_with_test(int8, setup, capsys):
    from humanparse.inference.backends import create_predictor
    from humanparse.inference.predictor import Predictor

    backend, out, _ = int8
    photos = setup["data"] / "val_images"
    reference = _labels(Predictor(setup["config"], setup["checkpoint"]), photos)
    labels = _labels(create_predictor(None, out, backend=backend), photos)
    assert _agreement(reference, labels) > 0.8
    argv = ["test", RESIZE_RECIPE, str(out), "--data-root", str(setup["data"]), "--backend", backend]
    assert main(argv + ["--no-progress", *cli_settings()]) == 0
    assert "mIoU" in capsys.readouterr().out
    # the file alone: its recipe from the metadata, its runtime from the suffix
    parsed = setup["root"] / f"parsed_{backend}"
    argv = ["predict", str(out), str(photos), "--out", str(parsed), "--workers", "0", "--no-progress"]
    assert main(argv) == 0
    written = sorted(parsed.glob("*.png"))
    assert len(written) == len(labels)
    for path, expected in zip(written, labels):
        np.testing.assert_array_equal(np.array(Image.open(path)), expected)
    capsys.readouterr()
    assert main(["test", str(out), "--data-root", str(setup["data"]), "--no-progress"]) == 0
    assert "mIoU" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["openvino", "onnxruntime"])
def test_fp32_files_on_each_runtime_match_torch(backend, setup):
    if backend == "openvino":
        pytest.importorskip("openvino")
    from humanparse.data.datasets import build_dataset
    from humanparse.engine.evaluator import evaluate
    from humanparse.inference.backends import create_predictor, runtime_forward
    from humanparse.inference.predictor import Predictor

    photos = setup["data"] / "val_images"
    reference = Predictor(setup["config"], setup["checkpoint"])
    runtime = create_predictor(None, setup["fp32"], backend=backend)
    for path in sorted(photos.glob("*.jpg")):
        np.testing.assert_allclose(
            runtime.predict_logits(path), reference.predict_logits(path), rtol=1e-3, atol=1e-3
        )
    config = setup["config"].override([])
    config.data.root = str(setup["data"])
    dataset = build_dataset(config, "val", train=False)
    ours = evaluate(tiny_model(config), config, dataset, progress=False)
    theirs = evaluate(None, config, dataset, forward=runtime_forward(backend, setup["fp32"]), progress=False)
    assert theirs["mIoU"] == pytest.approx(ours["mIoU"], abs=1e-3)


def test_metadata_round_trip_and_files_without_it(setup, tmp_path):
    import onnx

    from humanparse.inference.metadata import config_from_model_file, read_metadata

    metadata = read_metadata(setup["fp32"])
    assert config_from_model_file(setup["fp32"]).to_dict() == setup["config"].to_dict()
    assert json.loads(metadata["humanparse.classes"])[2] == "hair"
    assert json.loads(metadata["humanparse.flip_pairs"]) == [[14, 15], [16, 17], [18, 19]]
    assert json.loads(metadata["humanparse.normalization"])["channel_order"] == "RGB"
    assert json.loads(metadata["humanparse.input_size"]) == [64, 64]
    assert json.loads(metadata["humanparse.palette"])[2] == [255, 0, 0]
    bare = onnx.load(str(setup["fp32"]))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(CheckpointError, match="give the config"):
        config_from_model_file(tmp_path / "bare.onnx")
    from humanparse.inference.backends import create_predictor

    with pytest.raises(ConfigError, match="needs a config"):
        create_predictor(None, setup["checkpoint"])


def test_a_failed_export_check_writes_nothing(setup, tmp_path, monkeypatch, capsys):
    import humanparse.deploy.export as export

    monkeypatch.setattr(export, "verify_onnx", lambda *args, **kwargs: {"seg": 0.5})
    with pytest.raises(export.ExportMismatch, match="nothing written"):
        export.export_onnx(tiny_model(setup["config"]), tmp_path / "bad.onnx", (64, 64))
    argv = ["export", RESIZE_RECIPE, str(setup["checkpoint"]), "--onnx", str(tmp_path / "cli.onnx")]
    assert main(argv + cli_settings()) == 1
    assert "differs from PyTorch" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # neither the files nor their temporary names


def test_export_writes_the_recipe_and_replaces_an_old_file(setup, tmp_path):
    from humanparse.inference.metadata import config_from_model_file

    out = tmp_path / "model.onnx"
    out.write_bytes(setup["fp32"].read_bytes())  # an earlier export (a file of another kind is refused)
    argv = ["export", RESIZE_RECIPE, str(setup["checkpoint"]), "--onnx", str(out)]
    assert main(argv + cli_settings()) == 0
    assert config_from_model_file(out).name == RESIZE_RECIPE
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


@pytest.mark.parametrize("module", ["onnx", "openvino", "nncf"])
def test_missing_extras_are_one_line_errors(module, setup, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    if module == "onnx":
        argv = ["export", RESIZE_RECIPE, str(setup["checkpoint"]), "--onnx", str(tmp_path / "x.onnx")]
    else:
        argv = [
            "quantize",
            RESIZE_RECIPE,
            str(setup["checkpoint"]),
            "--calib",
            str(setup["data"] / "val_images"),
        ]
        argv += ["--out", str(tmp_path / "x.xml")]
    assert main(argv + cli_settings()) == 2
    err = capsys.readouterr().err.strip()
    assert f"pip install 'humanparse[{MISSING[module]}]'" in err and "\n" not in err
    assert list(tmp_path.iterdir()) == []
    if module == "openvino":
        from humanparse.inference.runtimes import openvino_forward

        with pytest.raises(ConfigError, match=r"humanparse\[openvino\]"):
            openvino_forward(setup["fp32"])


def test_cuda_is_refused_where_the_runtime_lacks_it(setup, monkeypatch):
    import onnxruntime

    from humanparse.inference.backends import create_predictor

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="CUDAExecutionProvider"):
        create_predictor(None, setup["fp32"], backend="onnxruntime", device="cuda")
    with pytest.raises(ConfigError, match="--device cpu"):
        create_predictor(None, setup["fp32"], backend="openvino", device="cuda")


def test_quantize_checks_its_output_name(setup, tmp_path):
    from humanparse.deploy.quantize import backend_for, split_photos

    assert backend_for("a.xml", None) == "openvino" and backend_for("a.onnx", None) == "onnxruntime"
    with pytest.raises(ConfigError, match=r"\.xml"):
        backend_for("a.onnx", "openvino")
    calibration, held_out = split_photos([Path(f"{i}.jpg") for i in range(5)], 100)
    assert len(calibration) == 4 and len(held_out) == 1


def test_int8_dot_product_detection():
    from humanparse.hardware import cpu_has_int8_dot_product

    assert cpu_has_int8_dot_product(frozenset({"avx2", "fma"})) is False  # AVX2 without VNNI: reduce_range
    assert cpu_has_int8_dot_product(frozenset({"avx2", "avx512_vnni"})) is True
    assert cpu_has_int8_dot_product(frozenset({"asimd", "fp"})) is True
