"""`humanparse predict` and the Predictor: files at the photo sizes, palette attached, skips and errors."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config, tiny_model
from PIL import Image

from humanparse.cli import main as cli_main
from humanparse.data.labels import get_palette
from humanparse.inference.predictor import Predictor

SIZES = {"even": (40, 30), "odd": (37, 51)}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name, size in SIZES.items():
        cv2.imwrite(str(folder / f"{name}.jpg"), rng.integers(0, 256, size=size + (3,), dtype=np.uint8))
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


def _predict(*argv: str) -> int:
    return cli_main(["predict", RESIZE_RECIPE, *argv, "--no-progress", *cli_settings()])


def test_predict_writes_palette_pngs_overlays_and_logits(photos, checkpoint, tmp_path):
    out = tmp_path / "out"
    assert (
        _predict(
            str(checkpoint), str(photos), "--out", str(out), "--overlay", "--save-logits", "--batch-size", "2"
        )
        == 0
    )
    predictor = Predictor(tiny_config(RESIZE_RECIPE), checkpoint)
    for name, size in SIZES.items():
        png = Image.open(out / f"{name}.png")
        assert png.mode == "P" and png.size == (size[1], size[0])
        assert np.array_equal(np.asarray(png.getpalette(), dtype=np.uint8).reshape(-1, 3), get_palette("lip"))
        expected = predictor(str(photos / f"{name}.jpg"))
        np.testing.assert_array_equal(np.asarray(png), expected)
        assert cv2.imread(str(out / f"{name}_overlay.jpg")).shape == size + (3,)
        logits = np.load(out / f"{name}_logits.npy")
        assert logits.dtype == np.float16 and logits.shape == (20, *size)
        reference = predictor.predict_logits(str(photos / f"{name}.jpg"))
        np.testing.assert_allclose(logits.astype(np.float32), reference, rtol=1e-3, atol=1e-2)


def test_predict_voc_palette_and_glob(photos, checkpoint, tmp_path):
    out = tmp_path / "out"
    assert _predict(str(checkpoint), str(photos / "odd*.jpg"), "--out", str(out), "--palette", "voc") == 0
    assert sorted(p.name for p in out.iterdir()) == ["odd.png"]
    palette = np.asarray(Image.open(out / "odd.png").getpalette(), dtype=np.uint8).reshape(-1, 3)
    assert np.array_equal(palette, get_palette("voc"))


def test_unreadable_images_are_skipped_and_listed(photos, checkpoint, tmp_path, capsys):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert _predict(str(checkpoint), str(photos / "even.jpg"), str(broken), "--out", str(out)) == 1
    assert "broken.jpg" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["even.png", "failed.jsonl"]
    (entry,) = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert entry["path"] == str(broken) and "decoded" in entry["error"]


def test_predict_errors(checkpoint, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _predict(str(checkpoint), str(empty), "--out", str(tmp_path / "o")) == 2
    assert "empty" in capsys.readouterr().err
    assert _predict(str(checkpoint), str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o")) == 2
    assert "nope.jpg" in capsys.readouterr().err
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.zeros((8, 8, 3), np.uint8))
    assert _predict(str(tmp_path / "missing.pth"), str(photo), "--out", str(tmp_path / "o")) == 2
    assert "missing.pth" in capsys.readouterr().err


def test_predictor_rejects_bad_arrays():
    from humanparse.errors import DataError

    config = tiny_config(RESIZE_RECIPE)
    predictor = Predictor(config, model=tiny_model(config))
    with pytest.raises(DataError):
        predictor(np.zeros((10, 10), dtype=np.uint8))


def test_onnxruntime_backend_matches_torch(photos, checkpoint, tmp_path):
    pytest.importorskip("onnxruntime")
    from humanparse.deploy.export import export_onnx

    config = tiny_config(RESIZE_RECIPE)
    onnx_path = export_onnx(tiny_model(config), tmp_path / "tiny.onnx", input_size=(64, 64), verify=False)
    torch_out, onnx_out = tmp_path / "torch", tmp_path / "onnx"
    assert _predict(str(checkpoint), str(photos), "--out", str(torch_out), "--save-logits") == 0
    assert (
        _predict(
            str(onnx_path), str(photos), "--out", str(onnx_out), "--backend", "onnxruntime", "--save-logits"
        )
        == 0
    )
    for name in SIZES:
        a = np.load(torch_out / f"{name}_logits.npy").astype(np.float32)
        b = np.load(onnx_out / f"{name}_logits.npy").astype(np.float32)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=2e-2)
        agree = np.mean(
            np.asarray(Image.open(torch_out / f"{name}.png"))
            == np.asarray(Image.open(onnx_out / f"{name}.png"))
        )
        assert agree > 0.99


def test_inputs_writing_the_same_name_are_refused(photos, checkpoint, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    (other / "odd.png").write_bytes((photos / "odd.jpg").read_bytes())
    assert (
        _predict(
            str(checkpoint), str(photos / "odd.jpg"), str(other / "odd.png"), "--out", str(tmp_path / "o")
        )
        == 2
    )
    assert "odd.png" in capsys.readouterr().err


def test_the_cli_offers_every_backend_the_engine_knows():
    from humanparse.cli.options import BACKENDS as CLI_BACKENDS
    from humanparse.inference.backends import BACKENDS

    assert CLI_BACKENDS == BACKENDS
