"""Issue 13: every mistake a user can make in `predict`, `test` and `convert` is one line naming the option or file
(exit 2); the Predictor reads PIL Images and RGB arrays as asked; broken weights and absent classes are visible."""

from __future__ import annotations

import errno
import json
import logging
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from eval_fixtures import (
    RESIZE_RECIPE,
    cli_settings,
    make_lip_split,
    save_checkpoint,
    tiny_config,
    tiny_model,
)
from PIL import Image

from humanparse.cli import main as cli_main
from humanparse.engine.report import ABSENT, class_iou_figure
from humanparse.errors import ConfigError, DataError
from humanparse.hardware import resolve_device
from humanparse.inference.predictor import Predictor
from humanparse.inference.runtimes.torch_runtime import model_forward
from humanparse.inference.tta import TestTimeAugmentation


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_lip_split(tmp_path_factory.mktemp("lip"))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("photos") / "person.png"  # lossless: the pixels read back exactly
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8))
    return path


def _predict(*argv: str) -> int:
    return cli_main(["predict", RESIZE_RECIPE, *argv, "--no-progress", *cli_settings()])


def _test(checkpoint, data_root, *argv: str) -> int:
    command = ["test", RESIZE_RECIPE, str(checkpoint), "--data-root", str(data_root)]
    return cli_main([*command, *argv, "--no-progress", *cli_settings()])


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"humanparse {command}: error: ") and err.count("\n") == 1, err
    return err


# --scales -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scales, message", [("nan", "positive finite"), ("0.001", "at least 32 px")])
def test_predict_refuses_scales_that_break_the_network(checkpoint, photo, tmp_path, capsys, scales, message):
    assert _predict(str(checkpoint), str(photo), "--out", str(tmp_path / "o"), "--scales", "1", scales) == 2
    err = _one_line_error(capsys, "predict")
    assert "--scales" in err and message in err


def test_test_refuses_a_scale_too_small_for_the_network(checkpoint, data_root, capsys):
    assert _test(checkpoint, data_root, "--scales", "0.1") == 2
    err = _one_line_error(capsys, "test")
    assert "--scales" in err and "64x64 network input 6x6 px" in err and "scales >= 0.5" in err


def test_tta_refuses_infinite_scales():
    with pytest.raises(ConfigError, match="positive finite"):
        TestTimeAugmentation(lambda images: images, "resize", [1.0, math.inf])


# --device ------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


CUDA_MESSAGE = "--device cuda was asked for, but torch sees no CUDA device; use --device cpu"


def test_predict_and_test_on_cuda_without_cuda_are_one_line(
    no_cuda, checkpoint, photo, data_root, tmp_path, capsys
):
    assert _predict(str(checkpoint), str(photo), "--out", str(tmp_path / "o"), "--device", "cuda") == 2
    assert CUDA_MESSAGE in _one_line_error(capsys, "predict")
    assert _test(checkpoint, data_root, "--device", "cuda") == 2
    assert CUDA_MESSAGE in _one_line_error(capsys, "test")


def test_every_entry_point_shares_the_device_check(no_cuda, checkpoint):
    from humanparse.engine.distributed import init_distributed
    from humanparse.inference.backends import create_predictor
    from humanparse.inference.timing import resolve_device as timing_resolve_device

    assert timing_resolve_device is resolve_device
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        create_predictor(tiny_config(RESIZE_RECIPE), checkpoint, device="cuda")
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        Predictor(tiny_config(RESIZE_RECIPE), checkpoint, device="cuda")
    with pytest.raises(ConfigError, match="torch sees no CUDA device"):
        init_distributed("cuda")
    with pytest.raises(ConfigError, match="cpu or cuda"):
        resolve_device("tpu")


# --precision fp16 on the CPU ------------------------------------------------------------------------------------


def test_fp16_on_the_cpu_is_refused(checkpoint, photo, data_root, tmp_path, capsys):
    assert _predict(str(checkpoint), str(photo), "--out", str(tmp_path / "o"), "--precision", "fp16") == 2
    assert "--precision fp16 needs a GPU" in _one_line_error(capsys, "predict")
    assert _test(checkpoint, data_root, "--precision", "fp16") == 2
    assert "--precision fp16 needs a GPU" in _one_line_error(capsys, "test")
    forward = model_forward(tiny_model(tiny_config(RESIZE_RECIPE)), precision="fp16")
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        forward(torch.zeros(1, 3, 64, 64))


def test_benchmark_refuses_fp16_on_the_cpu(capsys):
    argv = [
        "benchmark",
        RESIZE_RECIPE,
        "--precision",
        "fp16",
        "--input-size",
        "64",
        "64",
        "--repeats",
        "1",
        "--warmup",
        "0",
    ]
    assert cli_main(argv) == 2
    assert "--precision fp16 needs a GPU" in _one_line_error(capsys, "benchmark")


# test --out and convert OUT -----------------------------------------------------------------------------------


def test_test_out_conflicts_are_one_line_before_evaluating(checkpoint, data_root, tmp_path, capsys):
    folder = tmp_path / "reports"
    folder.mkdir()
    assert _test(checkpoint, data_root, "--out", str(folder)) == 2
    assert f"cannot write {folder}: it is a folder" in _one_line_error(capsys, "test")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert _test(checkpoint, data_root, "--out", str(a_file / "val.json")) == 2
    err = _one_line_error(capsys, "test")
    assert f"{a_file} is a file, not a folder" in err
    assert "mIoU" not in capsys.readouterr().out  # refused before the evaluation ran


@pytest.mark.parametrize("failing", ["json", "png"])
def test_a_full_disk_while_writing_the_report_is_one_line(
    checkpoint, data_root, tmp_path, capsys, monkeypatch, failing
):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "json":
        monkeypatch.setattr(Path, "write_text", full_disk)
    else:
        from matplotlib.figure import Figure

        monkeypatch.setattr(Figure, "savefig", full_disk)
    out = tmp_path / "val.json"
    assert _test(checkpoint, data_root, "--out", str(out)) == 2
    err = _one_line_error(capsys, "test")
    assert "No space left on device" in err and "cannot write" in err and str(tmp_path) in err


def test_convert_output_conflicts_are_one_line(checkpoint, tmp_path, capsys):
    command = ["convert", str(checkpoint), "--config", RESIZE_RECIPE, *cli_settings()]
    folder = tmp_path / "weights"
    folder.mkdir()
    assert cli_main([*command[:2], str(folder), *command[2:]]) == 2
    assert f"cannot write {folder}: it is a folder" in _one_line_error(capsys, "convert")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert cli_main([*command[:2], str(a_file / "out.pth"), *command[2:]]) == 2
    assert f"{a_file} is a file, not a folder" in _one_line_error(capsys, "convert")


# random bytes as weights ----------------------------------------------------------------------------------------


def test_random_bytes_as_weights_are_one_line_in_predict_and_test(photo, data_root, tmp_path, capsys):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(np.random.default_rng(0).bytes(3000))
    assert _predict(str(garbage), str(photo), "--out", str(tmp_path / "o")) == 2
    err = _one_line_error(capsys, "predict")
    assert "garbage.pth" in err and "weights_only" not in err
    assert _test(garbage, data_root) == 2
    err = _one_line_error(capsys, "test")
    assert "garbage.pth" in err and "weights_only" not in err


# non-finite logits ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory):
    from humanparse.models.checkpoint_io import checkpoint_dict

    config = tiny_config(RESIZE_RECIPE)
    model = tiny_model(config)
    # finite weights (NaN ones are refused when loading) so large that the logits overflow to inf / NaN
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(1e30)
    path = tmp_path_factory.mktemp("broken") / "diverged.pth"
    torch.save(checkpoint_dict(model, config), path)
    return path


def test_predict_warns_once_about_non_finite_logits(nan_checkpoint, photo, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert _predict(str(nan_checkpoint), str(photo), str(photo), "--out", str(tmp_path / "o")) == 0
    warnings = [record.getMessage() for record in caplog.records if "non-finite" in record.getMessage()]
    assert len(warnings) == 1 and str(nan_checkpoint) in warnings[0]


def test_test_marks_its_report_when_the_logits_are_not_finite(
    nan_checkpoint, checkpoint, data_root, tmp_path, capsys
):
    out = tmp_path / "val.json"
    assert _test(nan_checkpoint, data_root, "--out", str(out)) == 0
    assert "WARNING: the network gave non-finite" in capsys.readouterr().out
    assert json.loads(out.read_text())["nonfinite_logits"] is True
    assert _test(checkpoint, data_root, "--out", str(out)) == 0
    assert "non-finite" not in capsys.readouterr().out
    assert json.loads(out.read_text())["nonfinite_logits"] is False


# the Predictor's inputs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def predictor(checkpoint):
    return Predictor(tiny_config(RESIZE_RECIPE), checkpoint)


def test_arrays_say_their_channel_order(predictor, photo):
    # logits, not labels: the random tiny network gives one class almost everywhere
    bgr = cv2.imread(str(photo))
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    expected = predictor.predict_logits(str(photo))
    np.testing.assert_array_equal(predictor.predict_logits(bgr), expected)
    np.testing.assert_array_equal(predictor.predict_logits(rgb, channel_order="rgb"), expected)
    swapped = predictor.predict_logits(rgb)  # an RGB array read as BGR is another photo
    assert not np.allclose(swapped, expected)
    labels, logits = predictor.predict_batch([rgb, bgr[:, :, ::-1]], with_logits=True, channel_order="rgb")
    for item in logits:  # a batch of two sums in another order than a batch of one
        np.testing.assert_allclose(item, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(predictor(rgb, channel_order="rgb"), expected.argmax(0))
    with pytest.raises(DataError, match="channel_order"):
        predictor(bgr, channel_order="bgra")


def test_pil_images_of_any_mode_are_read_as_rgb(predictor, photo):
    expected = predictor.predict_logits(str(photo))
    picture = Image.open(photo)
    assert picture.mode == "RGB"
    np.testing.assert_array_equal(predictor.predict_logits(picture), expected)
    np.testing.assert_array_equal(predictor.predict_logits(picture.convert("RGBA")), expected)
    gray = picture.convert("L")
    gray_bgr = cv2.cvtColor(np.asarray(gray), cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(predictor.predict_logits(gray), predictor.predict_logits(gray_bgr))
    palette = picture.convert("P")
    as_rgb = np.asarray(palette.convert("RGB"))
    np.testing.assert_array_equal(predictor.predict_logits(palette), predictor.predict_logits(as_rgb, "rgb"))
    assert not np.allclose(
        predictor.predict_logits(palette), expected
    )  # the palette really changed the photo


def test_a_wrong_input_says_what_is_accepted(predictor):
    with pytest.raises(DataError, match="PIL Image"):
        predictor(np.zeros((4, 4), dtype=np.uint8))


# the per-class IoU chart ----------------------------------------------------------------------------------------


def test_absent_classes_are_drawn_as_absent_not_as_zero():
    results = {
        "per_class_iou": {"background": 0.9, "hat": float("nan"), "hair": 0.0, "glove": None},
        "mIoU": 0.45,
    }
    figure = class_iou_figure(results)
    axes = figure.axes[0]
    bars = {round(patch.get_y() + patch.get_height() / 2): patch.get_width() for patch in axes.patches}
    assert bars == {
        0: pytest.approx(90.0),
        2: 0.0,
    }  # hair has IoU 0 and a (zero) bar; hat and glove have none
    notes = {round(text.get_position()[1]): text.get_text() for text in axes.texts}
    assert notes == {1: ABSENT, 3: ABSENT}
    colours = [label.get_color() for label in axes.get_yticklabels()]
    assert colours[1] == colours[3] == "grey" and colours[0] != "grey" and colours[2] != "grey"
