"""`evaluate` and `humanparse test`: metrics on a synthetic split, the report files, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from eval_fixtures import (
    AFFINE_RECIPE,
    RESIZE_RECIPE,
    cli_settings,
    make_lip_split,
    save_checkpoint,
    tiny_config,
    tiny_model,
)

from humanparse.cli import main as cli_main
from humanparse.data.datasets import build_dataset
from humanparse.engine.evaluator import evaluate
from humanparse.inference.predictor import Predictor
from humanparse.metrics import ConfusionMatrix


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_lip_split(tmp_path_factory.mktemp("lip"))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights")
    return {
        name: save_checkpoint(tiny_config(name), folder / f"{name}.pth")
        for name in (RESIZE_RECIPE, AFFINE_RECIPE)
    }


@pytest.mark.parametrize("recipe", [RESIZE_RECIPE, AFFINE_RECIPE])
def test_evaluate_matches_scoring_the_predictor_outputs(recipe, data_root):
    config = tiny_config(recipe, f"data.root={data_root}")
    model = tiny_model(config)
    dataset = build_dataset(config, "val", train=False)
    results = evaluate(model, config, dataset, progress=False)

    predictor = Predictor(config, model=model)
    matrix = ConfusionMatrix(20)
    for index in range(len(dataset)):
        image, label = dataset.read(index)
        prediction = predictor(image)
        assert prediction.shape == label.shape
        matrix.update(prediction, label)
    expected = matrix.compute(config.eval.miou_over)
    assert results["mIoU"] == pytest.approx(expected["mIoU"])
    assert results["confusion_matrix"] == matrix.matrix.tolist()
    assert list(results["per_class_iou"]) == list(dataset.class_names)
    assert results["protocol"] == config.eval.protocol and results["miou_over"] == config.eval.miou_over
    assert results["scales"] == list(config.eval.scales) and results["flip"] == config.eval.flip
    assert results["num_images"] == 3


def test_evaluate_scale_and_flip_overrides(data_root):
    config = tiny_config(AFFINE_RECIPE, f"data.root={data_root}")
    dataset = build_dataset(config, "val", train=False)
    results = evaluate(tiny_model(config), config, dataset, scales=[1.0], flip=False, progress=False)
    assert results["scales"] == [1.0] and results["flip"] is False


def test_test_command_writes_table_json_and_pngs(data_root, checkpoints, tmp_path, capsys):
    out = tmp_path / "report" / "val.json"
    argv = ["test", RESIZE_RECIPE, str(checkpoints[RESIZE_RECIPE]), "--data-root", str(data_root)]
    assert cli_main(argv + ["--out", str(out), "--no-progress", *cli_settings()]) == 0
    printed = capsys.readouterr().out
    assert "left_arm" in printed and "mIoU" in printed
    report = json.loads(out.read_text())
    for key in (
        "mIoU",
        "pixel_acc",
        "mean_acc",
        "fwIoU",
        "per_class_iou",
        "protocol",
        "scales",
        "flip",
        "miou_over",
    ):
        assert key in report
    assert len(report["per_class_iou"]) == 20 and report["protocol"] == "resize"
    config = tiny_config(RESIZE_RECIPE, f"data.root={data_root}")
    expected = evaluate(tiny_model(config), config, build_dataset(config, "val", train=False), progress=False)
    assert report["mIoU"] == pytest.approx(expected["mIoU"])  # the checkpoint holds the seed-0 weights
    for suffix in ("_class_iou.png", "_confusion.png"):
        png = out.parent / f"val{suffix}"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_command_errors(data_root, checkpoints, tmp_path, capsys):
    base = ["--no-progress", *cli_settings()]
    missing = tmp_path / "missing.pth"
    assert cli_main(["test", RESIZE_RECIPE, str(missing), "--data-root", str(data_root), *base]) == 2
    assert "missing.pth" in capsys.readouterr().err
    # a CSENet checkpoint given to the CE2P recipe
    wrong = ["test", RESIZE_RECIPE, str(checkpoints[AFFINE_RECIPE]), "--data-root", str(data_root), *base]
    assert cli_main(wrong) == 2
    assert checkpoints[AFFINE_RECIPE].name in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        cli_main(["test", RESIZE_RECIPE, str(checkpoints[RESIZE_RECIPE]), "--data-root", str(empty), *base])
        == 2
    )
    assert "empty" in capsys.readouterr().err


def test_confusion_matrix_counts_every_labelled_pixel(data_root):
    config = tiny_config(RESIZE_RECIPE, f"data.root={data_root}")
    dataset = build_dataset(config, "val", train=False)
    results = evaluate(tiny_model(config), config, dataset, progress=False)
    labelled = sum(int(np.sum(dataset.read(i)[1] != 255)) for i in range(len(dataset)))
    assert np.sum(results["confusion_matrix"]) == labelled
