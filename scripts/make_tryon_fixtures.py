"""Make tests/fixtures/tryon/: OOTDiffusion's own preprocessing run on synthetic photos (issue 21).

    git --git-dir=<mirror of levihsu/OOTDiffusion> archive HEAD run preprocess/humanparsing | tar -x -C /tmp/ootd
    PYTHONPATH=$PWD python3 scripts/make_tryon_fixtures.py --reference /tmp/ootd

1. Two small SCHP networks (tests/tryon_network.py: humanparse's schp_resnet101_{atr,lip} architecture at a quarter
   width, one block per stage, seeded random weights) get their last layer fitted to synthetic people, and are
   exported with the published interface of `parsing_{atr,lip}.onnx` into the scratch copy's
   checkpoints/humanparsing/.
2. Synthetic photos and their keypoints (from the drawn arms) are written to the fixtures.
3. `tryon_reference_driver.py` runs OOTDiffusion's code on every photo x category x model type, with the
   keypoints and with every keypoint missing (pose-free), and records parse map, masks and masked photo.
4. The same with two "designed" networks (tests/tryon_network.py: fixed logits of a drawn person), so that the
   hole fill around the arms and the neck are exercised on known shapes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import tryon_network as tn  # noqa: E402

from humanparse.data.synth import render_sample  # noqa: E402

NUM_CLASSES = {"atr": 18, "lip": 20}
INPUT_SIZE = {"atr": 512, "lip": 473}
# name -> (height, width, seed, file type): several sizes and aspect ratios, one JPEG
PHOTOS = {
    "person_a": (256, 192, 31, "png"),
    "person_b": (400, 300, 32, "png"),
    "person_c": (300, 260, 33, "jpg"),
}
CATEGORIES = ("upper_body", "lower_body", "dresses")
MODEL_TYPES = ("hd", "dc")
# the jobs whose masked photo is stored as written (the others are checked against photo + mask by the driver)
KEEP_MASKED = {
    ("person_a", "hd", "upper_body", "pose"),
    ("person_b", "dc", "dresses", "pose"),
    ("person_c", "dc", "lower_body", "posefree"),
}


def fit_networks(out: Path, reference: Path) -> None:
    heads = {}
    for kind in ("atr", "lip"):
        model = tn.random_network(kind)
        heads[f"{kind}_fingerprint"] = np.float64(tn.fingerprint(model))
        samples = [render_sample(kind, (512, 384), np.random.default_rng([7, i])) for i in range(16)]
        weight, bias = tn.fit_last_layer(model, samples, NUM_CLASSES[kind], INPUT_SIZE[kind])
        heads[f"{kind}_weight"], heads[f"{kind}_bias"] = weight, bias
        tn.set_last_layer(model, weight, bias)
        target = reference / "checkpoints" / "humanparsing" / f"parsing_{kind}.onnx"
        tn.export_ootd_onnx(model, target, INPUT_SIZE[kind])
        print(f"{target}: {target.stat().st_size} bytes", flush=True)
    np.savez_compressed(out / "heads.npz", **heads)


def arm_keypoints(label: np.ndarray) -> list:
    """OpenPose's 18 body points in the 384x512 frame, [0, 0] when missing; shoulders, elbows and wrists from the
    drawn arms (ATR 14 = left arm, on the image's right; OpenPose 2-4 right arm, 5-7 left arm)."""
    points = [[0.0, 0.0] for _ in range(18)]
    scale_x, scale_y = 384 / label.shape[1], 512 / label.shape[0]
    for arm_class, first in ((15, 2), (14, 5)):
        ys, xs = np.nonzero(label == arm_class)
        if len(ys) < 20:
            continue
        order = np.argsort(ys)
        for offset, (lo, hi) in enumerate(((0.0, 0.08), (0.45, 0.55), (0.92, 1.0))):
            chosen = order[int(lo * len(order)) : max(int(hi * len(order)), int(lo * len(order)) + 1)]
            x = float(np.round(xs[chosen].mean() * scale_x))
            y = float(np.round(ys[chosen].mean() * scale_y))
            points[first + offset] = [x, y]
    points[1] = [float(np.mean([points[2][0], points[5][0]])), float(points[2][1])]  # neck
    return points


def make_photos(out: Path) -> dict:
    photos = out / "photos"
    keypoint_dir = out / "keypoints"
    photos.mkdir(parents=True, exist_ok=True)
    keypoint_dir.mkdir(parents=True, exist_ok=True)
    keypoints = {}
    for name, (height, width, seed, kind) in PHOTOS.items():
        image, label = render_sample("atr", (height, width), np.random.default_rng([11, seed]))
        path = photos / f"{name}.{kind}"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92] if kind == "jpg" else [])
        points = arm_keypoints(label)
        if name == "person_b":
            points[4] = [0.0, 0.0]  # the right wrist undetected: that arm comes from the parse map
        keypoints[name] = points
        (keypoint_dir / f"{name}.json").write_text(json.dumps({"pose_keypoints_2d": points}))
    # person_a (192x256, half the 384x512 frame) also in OpenPose / VITON-HD's format, in the photo's pixels
    people = []
    for x, y in keypoints["person_a"]:
        people += [x / 2, y / 2, 0.0 if (x, y) == (0.0, 0.0) else 0.9]
    openpose = {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": people}]}
    (keypoint_dir / "person_a_keypoints.json").write_text(json.dumps(openpose))
    return keypoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, type=Path, help="scratch copy of levihsu/OOTDiffusion")
    parser.add_argument("--out", type=Path, default=tn.FIXTURES)
    args = parser.parse_args()
    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    fit_networks(args.out, args.reference)
    keypoints = make_photos(args.out)
    jobs = []
    for name, (_, _, _, kind) in PHOTOS.items():
        for model_type in MODEL_TYPES:
            for category in CATEGORIES:
                for pose in ("pose", "posefree"):
                    points = keypoints[name] if pose == "pose" else [[0.0, 0.0]] * 18
                    jobs.append(
                        {
                            "name": f"{name}_{model_type}_{category}_{pose}",
                            "photo_stem": name,
                            "photo": str((args.out / "photos" / f"{name}.{kind}").resolve()),
                            "model_type": model_type,
                            "category": category,
                            "keypoints": points,
                            "keep_masked": (name, model_type, category, pose) in KEEP_MASKED,
                        }
                    )
    run_driver(args.reference, jobs, args.out / "reference")
    # 4. the designed networks (fixed logits of a drawn person: shirt hole, arm loops, neck) on person_a's photo
    for kind in ("atr", "lip"):
        tn.export_designed_onnx(
            kind, args.reference / "checkpoints" / "humanparsing" / f"parsing_{kind}.onnx"
        )
    designed = []
    for model_type in MODEL_TYPES:
        for category in CATEGORIES:
            for pose in ("pose", "posefree"):
                designed.append(
                    {
                        "name": f"designed_{model_type}_{category}_{pose}",
                        "photo_stem": "designed",
                        "photo": str((args.out / "photos" / "person_a.png").resolve()),
                        "model_type": model_type,
                        "category": category,
                        "keypoints": tn.DESIGNED_KEYPOINTS if pose == "pose" else [[0.0, 0.0]] * 18,
                        "keep_masked": (model_type, category, pose) == ("hd", "upper_body", "pose"),
                    }
                )
    run_driver(args.reference, designed, args.out / "reference")


def run_driver(reference: Path, jobs: list, out: Path) -> None:
    job_file = reference / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    driver = Path(__file__).resolve().parent / "tryon_reference_driver.py"
    subprocess.run([sys.executable, str(driver), str(reference), str(job_file), str(out)], check=True)


if __name__ == "__main__":
    main()
