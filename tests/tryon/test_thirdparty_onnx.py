"""OOTDiffusion's `parsing_atr.onnx` / `parsing_lip.onnx` run as they are: recognised by SHA-256 or by their
interface (input `input.1`, outputs [parsing, fusion, edge], fusion used), in predict, tryon and quantize; a
truncated file gets one line with the expected size. The files here are tiny graphs with that interface."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image
from tryon_network import tiny_onnx

from humanparse.cli import main
from humanparse.errors import CheckpointError
from humanparse.inference import thirdparty


@pytest.fixture()
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(4):
        Image.fromarray(rng.integers(0, 255, (96, 72, 3), dtype=np.uint8)).save(folder / f"p{index}.png")
    return folder


def test_recognised_by_interface_with_its_recipe_and_fusion_output(tmp_path):
    atr = thirdparty.identify(tiny_onnx(tmp_path / "a.onnx", 18, 512))
    lip = thirdparty.identify(tiny_onnx(tmp_path / "l.onnx", 20, 473))
    assert (atr.recipe, atr.output_index, atr.recognised_by) == ("schp_resnet101_atr", 1, "interface")
    assert lip.recipe == "schp_resnet101_lip"


def test_recognised_by_sha256(tmp_path, monkeypatch):
    path = tiny_onnx(tmp_path / "parsing_atr.onnx")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = thirdparty.PublishedFile("parsing_atr.onnx", path.stat().st_size, digest, "schp_resnet101_atr")
    monkeypatch.setattr(thirdparty, "PUBLISHED", (entry,))
    thirdparty._identify.cache_clear()
    assert thirdparty.identify(path).recognised_by == "sha256"
    thirdparty._identify.cache_clear()


def test_a_humanparse_file_is_not_third_party(tmp_path):
    import onnx

    path = tiny_onnx(tmp_path / "x.onnx")
    proto = onnx.load(str(path))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "humanparse.config", "{}"
    onnx.save(proto, str(path))
    assert thirdparty.identify(path) is None


def test_truncated_download_gets_one_line_with_the_expected_size(tmp_path, photos, capsys):
    full = tiny_onnx(tmp_path / "full.onnx")
    cut = tmp_path / "parsing_atr.onnx"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(CheckpointError) as error:
        thirdparty.identify(cut)
    assert "266,859,305 bytes" in str(error.value) and "truncated" in str(error.value)
    assert main(["predict", str(cut), str(photos), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "266,859,305" in err[0] and "parsing_lip" not in err[0]


def test_predict_runs_the_fusion_output(tmp_path, photos):
    path = tiny_onnx(tmp_path / "parsing_atr.onnx")
    out = tmp_path / "out"
    assert (
        main(["predict", str(path), str(photos), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    )
    labels = np.asarray(Image.open(out / "p0.png"))
    assert labels.shape == (96, 72) and len(np.unique(labels)) > 3  # output 0 (parsing) would be all zeros


def test_the_serve_predictor_takes_it(tmp_path):
    from humanparse.inference.backends import create_predictor

    predictor = create_predictor(None, tiny_onnx(tmp_path / "parsing_lip.onnx", 20, 473), backend="openvino")
    assert predictor.num_classes == 20
    labels = predictor(np.full((60, 40, 3), 128, np.uint8))
    assert labels.shape == (60, 40)


def test_quantize_the_published_file_to_openvino_int8(tmp_path, photos, capsys):
    path = tiny_onnx(tmp_path / "parsing_atr.onnx")
    out = tmp_path / "atr_int8.xml"
    assert main(["quantize", str(path), "--calib", str(photos), "--out", str(out), "--no-progress"]) == 0
    assert out.is_file() and out.with_suffix(".bin").is_file()
    assert "label agreement" in capsys.readouterr().out
    # the int8 file carries its recipe and runs in predict on its own
    result = tmp_path / "int8_out"
    assert (
        main(["predict", str(out), str(photos), "--out", str(result), "--workers", "0", "--no-progress"]) == 0
    )
    assert (result / "p0.png").is_file()


def test_tryon_takes_the_files_and_refuses_a_swapped_or_truncated_one(tmp_path, photos, capsys):
    from humanparse.errors import ConfigError
    from humanparse.tryon import OotdProtocol, build_tryon_predictor

    atr = tiny_onnx(tmp_path / "parsing_atr.onnx", 18, 512)
    lip = tiny_onnx(tmp_path / "parsing_lip.onnx", 20, 473)
    with pytest.raises(ConfigError, match="--atr: the model gives 20 classes"):
        build_tryon_predictor(OotdProtocol(), {"atr": lip, "lip": atr})
    with pytest.raises(ConfigError, match="runs on torch"):
        build_tryon_predictor(OotdProtocol(), {"atr": "schp_resnet101_atr"}, backend="onnxruntime")
    out = tmp_path / "out"
    argv = ["tryon", str(photos), "--out", str(out), "--atr", str(atr), "--lip", str(lip), "--workers", "0"]
    assert main(argv + ["--no-progress", "--backend", "openvino"]) == 0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("p0_")) == [
        "p0_mask.png", "p0_mask_gray.png", "p0_masked.png", "p0_parse.png",
    ]  # fmt: skip
    cut = tmp_path / "cut" / "parsing_lip.onnx"
    cut.parent.mkdir()
    cut.write_bytes(lip.read_bytes()[:1000])
    capsys.readouterr()
    assert (
        main(["tryon", str(photos), "--out", str(tmp_path / "o2"), "--atr", str(atr), "--lip", str(cut)]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "266,863,411 bytes" in err[0] and "1,000 bytes" in err[0]


def test_quantize_the_published_file_to_onnxruntime_int8(tmp_path, photos):
    from humanparse.deploy.quantize import quantize_model_file
    from humanparse.inference.metadata import config_from_model_file

    path = tiny_onnx(tmp_path / "parsing_lip.onnx", 20, 473)
    report = quantize_model_file(path, sorted(photos.iterdir()), tmp_path / "lip_int8.onnx", num_images=3)
    assert report.backend == "onnxruntime" and 0.0 <= report.agreement <= 1.0
    assert config_from_model_file(tmp_path / "lip_int8.onnx").name == "schp_resnet101_lip"
    assert "parsing_lip.onnx (interface)" in report.details["source"]
