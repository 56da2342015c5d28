"""int8 against fp32 try-on masks on trained networks (`benchmarks/tryon.py --accuracy`).

Two networks with the layout the try-on path runs (`schp_resnet101_atr` / `_lip`: SCHP's Augmented CE2P, deep
stem, InPlace-ABN semantics, output stride 16), scaled down as `ce2p_tiny_synthetic` scales CE2P (width 1/4, one
block per stage), are trained on synthetic people (`humanparse synth --layout atr` / `lip`) in the work folder
(resumable; see benchlib.training). The people are at the scale the try-on protocol feeds the networks: the
photos are 384x512 (the parsing picture) and training takes 256x256 crops of them resized to the network's size
(ATR 512, LIP 473, as in the letterbox of the affine test protocol). Each network is exported with OOTDiffusion's
ONNX interface, quantized by `humanparse quantize` (OpenVINO int8) on synthetic people kept out of the evaluation,
and the try-on outputs of fp32 and int8 are compared on other synthetic photos, for every category and model type,
pose-free and with the arm keypoints each synthetic person is drawn with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from benchlib.training import synthetic_photos, synthetic_split, train_recipe

RECIPES = {"atr": "schp_resnet101_atr", "lip": "schp_resnet101_lip"}
NETWORK_SIZE = {"atr": 512, "lip": 473}  # the try-on protocol's network inputs
SYNTH_SEEDS = {"atr": 21, "lip": 22}
PICTURE = (512, 384)  # (H, W): the 384x512 picture the try-on protocol parses
TRAIN_PHOTOS, VAL_PHOTOS = 200, 30
CALIBRATION_SEED, EVALUATION_SEED = 5, 7  # synthetic_photos seeds: neither is a training split
EPOCHS = 15  # 375 iterations: about 10 minutes of CPU per network at 1 thread (AVX-512 Xeon)


def overrides(kind: str) -> List[str]:
    """The recipe overrides of the trained small network of `kind` ("atr" or "lip")."""
    size = NETWORK_SIZE[kind]
    return [
        "model.width=0.25",
        "model.stage_blocks=[1,1,1,1]",
        # crops of the picture at the network's scale: the cost of 256x256, the people of the try-on inputs
        "data.pipeline=sssegmentation",
        "data.crop_size=[256,256]",
        f"data.resize_size=[{size},{round(size * PICTURE[1] / PICTURE[0])}]",
        "data.num_workers=1",
        # AdamW converges far faster than the recipe's SGD on networks this small
        "train.optimizer=adamw",
        "train.lr=0.002",
        "train.weight_decay=0.01",
        "train.warmup_iterations=30",
        "train.poly_power=1.0",
        "train.min_lr=0",
        "train.batch_size=8",
        "eval.miou_over=present",  # synthetic people wear no belt or scarf
    ]


def trained_config(kind: str):
    from humanparse.configs import get_config

    return get_config(RECIPES[kind]).override(overrides(kind))


def train_network(work: Path, kind: str, epochs: int) -> Tuple[Path, Path]:
    """(the data root, the best checkpoint) of the trained network of `kind`, training what is missing."""
    data = synthetic_split(work / "synth" / kind, kind, TRAIN_PHOTOS, VAL_PHOTOS, PICTURE, SYNTH_SEEDS[kind])
    checkpoint = train_recipe(
        RECIPES[kind], data, work / "train" / kind, epochs, overrides(kind), eval_interval=5
    )
    if checkpoint is None:
        raise RuntimeError(f"{kind}: training reached no evaluation; run again to continue")
    return data, checkpoint


def export_trained(kind: str, checkpoint: Path, out: Path) -> Path:
    """The trained network as an ONNX file with OOTDiffusion's interface (as the try-on repositories ship)."""
    import tryon_network as tn

    from humanparse.models.weights import load_for_inference

    model = load_for_inference(trained_config(kind), checkpoint)
    return tn.export_ootd_onnx(model, out, NETWORK_SIZE[kind])


def validation_miou(kind: str, data: Path, model_file: Path) -> float:
    """Validation mIoU (%) of an OOTDiffusion-interface file (fp32 .onnx or int8 .xml) on the synthetic split."""
    from humanparse.data.datasets import build_dataset
    from humanparse.engine.evaluator import evaluate
    from humanparse.inference.runtimes import ModelSpec, build_network

    config = trained_config(kind).override([f"data.root={data}"])
    if model_file.suffix == ".onnx":  # the fp32 file itself: its fusion output (index 1) holds the logits
        network = build_network(ModelSpec(config, model_file, output=1), "onnxruntime")
    else:
        network = build_network(ModelSpec(config, model_file), "openvino")
    dataset = build_dataset(config, config.data.val_split, train=False)
    return 100 * evaluate(None, config, dataset, network=network, progress=False)["mIoU"]


def _equal(a: np.ndarray, b: np.ndarray) -> Tuple[int, int]:
    return int((a == b).sum()), a.size


def tryon_agreement(files: Dict[str, Path], int8: Dict[str, Path], photos: List[Path]) -> Dict[str, float]:
    """Share of equal pixels between the fp32 and int8 try-on outputs: "parse", and the mask of every
    "category/model_type/pose-free" and ".../keypoints" (the arm points drawn with each synthetic person)."""
    from humanparse.tryon import OotdProtocol, build_tryon_predictor
    from humanparse.tryon.keypoints import photo_size, read_keypoints
    from humanparse.tryon.protocols.ootd import CATEGORIES, MODEL_TYPES, tryon_inputs
    from humanparse.tryon.runner import read_photo

    predictors = [build_tryon_predictor(OotdProtocol(), models) for models in (files, int8)]
    counts: Dict[str, List[int]] = {}

    def add(name: str, pair: Tuple[int, int]) -> None:
        totals = counts.setdefault(name, [0, 0])
        totals[0], totals[1] = totals[0] + pair[0], totals[1] + pair[1]

    for photo in photos:
        picture = read_photo(str(photo))
        parsed = [p.predict_samples([p.transform(picture)])[0][0] for p in predictors]
        add("parse", _equal(parsed[0].parse, parsed[1].parse))
        points = read_keypoints(photo.with_name(f"{photo.stem}_keypoints.json"), photo_size(photo))
        for category in CATEGORIES:
            for model_type in MODEL_TYPES:
                for mode, keypoints in (("pose-free", None), ("keypoints", points)):
                    masks = [
                        tryon_inputs(p.parse, p.photo, keypoints, category, model_type).mask for p in parsed
                    ]
                    add(f"{category}/{model_type}/{mode}", _equal(*masks))
    return {name: equal / total for name, (equal, total) in counts.items()}


def measure(work: Path, epochs: int, photos: int, calibration: int) -> Tuple[List[str], Dict[str, float]]:
    """Train (or reuse) both networks, quantize them; returns the report's lines and `tryon_agreement`'s shares."""
    from humanparse.deploy.quantize import quantize_model_file

    calibration_photos = synthetic_photos(work / "calib", calibration + 4, CALIBRATION_SEED)
    evaluation = synthetic_photos(work / "eval", photos, EVALUATION_SEED)
    files, int8, lines = {}, {}, []
    for kind in RECIPES:
        data, checkpoint = train_network(work, kind, epochs)
        files[kind] = export_trained(kind, checkpoint, work / "accuracy" / f"parsing_{kind}.onnx")
        int8[kind] = work / "accuracy" / f"parsing_{kind}_int8.xml"
        report = quantize_model_file(files[kind], calibration_photos, int8[kind], num_images=calibration)
        fp32_miou, int8_miou = (validation_miou(kind, data, f) for f in (files[kind], int8[kind]))
        lines.append(
            f"{kind}: {RECIPES[kind]} at width 0.25, one block per stage, trained {epochs} epochs on "
            f"{TRAIN_PHOTOS} synthetic people; validation mIoU ({VAL_PHOTOS} photos) fp32 {fp32_miou:.2f}, "
            f"int8 {int8_miou:.2f}; labels equal to fp32 on {report.held_out_images} held-out photos "
            f"{100 * report.agreement:.2f}% (calibrated on {report.calibration_images})"
        )
        print(lines[-1], flush=True)
    shares = tryon_agreement(files, int8, evaluation)
    lines.append(f"int8 against fp32 on {len(evaluation)} other synthetic photos (masks at 768x1024):")
    lines += [f"  {name}: {100 * share:.2f}% of pixels equal" for name, share in shares.items()]
    return lines, shares
