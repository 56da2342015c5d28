"""Photo in, label map out: humanparse against each reference's own scripts (tests/fixtures/e2e/README.md).

The fixtures ran SCHP's `simple_extractor.py` on photos and the official `evaluate*.py` of SCHP, CE2P, CDGNet and
CSENet on a tiny LIP-layout val set, with recipe weights saved in each reference's checkpoint format; the same
files go through `humanparse.Predictor`, `humanparse predict` and `evaluate` here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
from parity_recipe import FIXTURES as PARITY
from parity_recipe import recipe_state_dict, reference_checkpoint, relative_error
from PIL import Image

from humanparse.configs import load_config
from humanparse.data.io import read_image
from humanparse.inference.predictor import Predictor
from humanparse.models.weights import load_for_inference

E2E = Path(__file__).parents[1] / "fixtures" / "e2e"
PHOTOS = E2E / "photos"
EVAL_SIZE = [161, 129]  # the evaluation fixtures ran the scripts with --input-size 161,129
LABEL_AGREEMENT = 0.999
LOGITS_RTOL = 1e-4
# every family and protocol path runs by default; the same code with other options under
# HUMANPARSE_E2E_FULL=1 (~4 min more on 2 cores)
FULL = os.environ.get("HUMANPARSE_E2E_FULL") == "1"


def _checkpoint(directory: Path, keys: Path, fmt: str) -> Path:
    path = directory / (keys.stem + ".pth")
    if not path.exists():
        torch.save(reference_checkpoint(recipe_state_dict(keys), fmt), path)
    return path


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e_weights")


def _reference_outputs(dataset: str, stem: str, folder: Optional[Path] = None):
    folder = folder or E2E / f"simple_extractor_{dataset}"
    labels = np.array(Image.open(folder / f"{stem}.png"))
    with np.load(folder / "logits.npz") as logits:
        if stem in logits:
            return labels, logits[stem], 1
        # larger photos keep every Nth pixel's logits, under `<stem>__strideN`
        key = next(key for key in logits.files if key.startswith(f"{stem}__stride"))
        return labels, logits[key], int(key.rsplit("__stride", 1)[1])


def _check_prediction(
    labels, logits, dataset: str, stem: str, folder: Optional[Path] = None, rtol: float = LOGITS_RTOL
) -> None:
    ref_labels, ref_logits, stride = _reference_outputs(dataset, stem, folder)
    assert labels.shape == ref_labels.shape
    agreement = float((labels == ref_labels).mean())
    assert agreement >= LABEL_AGREEMENT, f"{stem}: {agreement:.5f} of the labels agree"
    error = relative_error(logits[:, ::stride, ::stride], ref_logits)
    assert error <= rtol, f"{stem}: logits relative error {error:.2e}"


@pytest.fixture(scope="module")
def schp_lip_model(weights_dir):
    config = load_config("schp_resnet101_lip")
    checkpoint = _checkpoint(weights_dir, PARITY / "schp_resnet101_lip_keys.tsv", "schp")
    return config, checkpoint, load_for_inference(config, checkpoint)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimize", "plain"])
def test_schp_lip_predictor_equals_simple_extractor(schp_lip_model, optimize):
    config, _, model = schp_lip_model
    stems = (
        ["tiny_hopper_29x37", "large_hopper_520x640", "landscape_hopper_131x187"]
        if optimize
        else ["portrait_hopper_200x150"]
    )
    predictor = Predictor(config, model=model, optimize=optimize)
    labels, logits = predictor.predict_batch([PHOTOS / f"{stem}.jpg" for stem in stems], with_logits=True)
    for stem, label_map, photo_logits in zip(stems, labels, logits):
        _check_prediction(label_map, photo_logits, "lip", stem)


@pytest.mark.parametrize("dataset", ["atr", "pascal"])
def test_schp_atr_pascal_predictor_equals_simple_extractor(weights_dir, dataset):
    if not FULL and dataset == "pascal":
        pytest.skip("same code as atr with 7 classes; set HUMANPARSE_E2E_FULL=1 to run it")
    name = f"schp_resnet101_{dataset}"
    checkpoint = _checkpoint(weights_dir, E2E / "keys" / f"{name}_keys.tsv", "schp")
    predictor = Predictor(name, checkpoint)
    stem = "tiny_hopper_29x37"
    labels, logits = predictor.predict_batch([read_image(PHOTOS / f"{stem}.jpg")], with_logits=True)
    _check_prediction(labels[0], logits[0], dataset, stem)


def test_predict_cli_writes_simple_extractor_labels(schp_lip_model, tmp_path):
    from humanparse.cli import main

    _, checkpoint, _ = schp_lip_model
    stem = "synth_person_161x121"
    photo = str(PHOTOS / f"{stem}.jpg")
    code = main(
        ["predict", "schp_resnet101_lip", str(checkpoint), photo, "--out", str(tmp_path), "--no-progress"]
    )
    assert code == 0
    written = np.array(Image.open(tmp_path / f"{stem}.png"))
    reference, _, _ = _reference_outputs("lip", stem)
    assert float((written == reference).mean()) >= LABEL_AGREEMENT


SSSEG_INFERENCE = E2E / "ssseg_inference"


@pytest.fixture(scope="module")
def ce2p_lip_model(weights_dir):
    config = load_config("ce2p_resnet50os8_lip")
    checkpoint = _checkpoint(weights_dir, PARITY / "ce2p_resnet50os8_lip_keys.tsv", "sssegmentation")
    return config, checkpoint, load_for_inference(config, checkpoint)


@pytest.mark.parametrize("optimize", [True, False], ids=["optimize", "plain"])
def test_ce2p_lip_predictor_equals_ssseg_inference(ce2p_lip_model, optimize):
    config, _, model = ce2p_lip_model
    stems = ["tiny_hopper_29x37", "large_hopper_520x640"] if optimize else ["landscape_hopper_131x187"]
    predictor = Predictor(config, model=model, optimize=optimize)
    labels, logits = predictor.predict_batch([PHOTOS / f"{stem}.jpg" for stem in stems], with_logits=True)
    for stem, label_map, photo_logits in zip(stems, labels, logits):
        _check_prediction(label_map, photo_logits, "lip", stem, SSSEG_INFERENCE / "single")


def test_ce2p_lip_predictor_tta_equals_ssseg_inference(ce2p_lip_model):
    if not FULL:
        pytest.skip(
            "six passes of the resize protocol checked by tta_resize.npz; HUMANPARSE_E2E_FULL=1 runs it"
        )
    config, _, model = ce2p_lip_model
    stem = "tiny_hopper_29x37"  # inference.py with tta multiscale [0.75, 1, 1.25] and flip
    predictor = Predictor(config, model=model, scales=[0.75, 1.0, 1.25], flip=True)
    labels, logits = predictor.predict_batch([PHOTOS / f"{stem}.jpg"], with_logits=True)
    _check_prediction(labels[0], logits[0], "lip", stem, SSSEG_INFERENCE / "msflip")


def test_predict_cli_writes_ssseg_inference_labels(ce2p_lip_model, tmp_path):
    from humanparse.cli import main

    _, checkpoint, _ = ce2p_lip_model
    stem = "synth_person_161x121"
    args = [str(checkpoint), str(PHOTOS / f"{stem}.jpg"), "--out", str(tmp_path), "--save-logits"]
    assert main(["predict", "ce2p_resnet50os8_lip", *args, "--no-progress"]) == 0
    written = np.array(Image.open(tmp_path / f"{stem}.png"))
    logits = np.load(tmp_path / f"{stem}_logits.npy").astype(np.float32)
    # --save-logits writes float16: its rounding alone is up to ~5e-4 relative
    _check_prediction(written, logits, "lip", stem, SSSEG_INFERENCE / "single", rtol=1e-3)


# (fixture, config, keys file, checkpoint format, scales, flip): the script's own options
EVALUATIONS = {
    "schp_eval_single": ("schp_resnet101_lip", PARITY / "schp_resnet101_lip_keys.tsv", "schp", [1.0], False),
    "schp_eval_msflip": (
        "schp_resnet101_lip",
        PARITY / "schp_resnet101_lip_keys.tsv",
        "schp",
        [0.75, 1.0, 1.25],
        True,
    ),
    "ce2p_eval": (
        "ce2p_official_resnet101_lip",
        PARITY / "ce2p_official_resnet101_lip_keys.tsv",
        "official",
        [1.0],
        False,
    ),
    "cdgnet_eval": (
        "cdgnet_resnet101_lip",
        PARITY / "cdgnet_resnet101_lip_keys.tsv",
        "official",
        [1.0],
        True,
    ),
    "cdgnet_eval_multi": (
        "cdgnet_resnet101_lip",
        PARITY / "cdgnet_resnet101_lip_keys.tsv",
        "official",
        [0.75, 1.0, 1.25],
        True,
    ),
    "csenet_eval": (
        "csenet_resnet101_lip",
        E2E / "keys" / "csenet_resnet101_lip_161x129_keys.tsv",
        "official",
        [1.0],
        True,
    ),
    "csenet_eval_multi": (
        "csenet_resnet101_lip",
        E2E / "keys" / "csenet_resnet101_lip_161x129_keys.tsv",
        "official",
        [0.75, 1.0, 1.25],
        True,
    ),
}

DEFAULT_EVALUATIONS = ("schp_eval_single", "ce2p_eval", "cdgnet_eval_multi", "csenet_eval")


@pytest.mark.parametrize("fixture", list(EVALUATIONS))
def test_evaluate_equals_reference_script(weights_dir, fixture):
    if not FULL and fixture not in DEFAULT_EVALUATIONS:
        pytest.skip("same protocol code as a default case; set HUMANPARSE_E2E_FULL=1 to run it")
    from humanparse.data.datasets import build_dataset
    from humanparse.engine.evaluator import evaluate

    name, keys, fmt, scales, flip = EVALUATIONS[fixture]
    reference_path = E2E / "evaluate" / f"{fixture}.npz"
    if not reference_path.exists():
        pytest.fail(f"missing fixture {reference_path}")
    reference = np.load(reference_path)
    config = load_config(name).override(
        [f"eval.input_size={EVAL_SIZE}", f"model.input_size={EVAL_SIZE}", f"data.root={E2E / 'lip_val'}"]
    )
    model = load_for_inference(config, _checkpoint(weights_dir, keys, fmt))
    dataset = build_dataset(config, "val", train=False)
    results = evaluate(model, config, dataset, scales=scales, flip=flip, progress=False)
    np.testing.assert_array_equal(np.array(results["confusion_matrix"]), reference["confusion_matrix"])
    assert results["mIoU"] * 100 == pytest.approx(float(reference["metric:Mean IU"]), abs=1e-9)
    assert results["pixel_acc"] * 100 == pytest.approx(float(reference["metric:Pixel accuracy"]), abs=1e-9)
    assert results["mean_acc"] * 100 == pytest.approx(float(reference["metric:Mean accuracy"]), abs=1e-9)
