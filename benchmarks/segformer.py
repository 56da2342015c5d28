"""`humanparse predict fashn_segformer_b4` against the FASHN package's `FashnHumanParser.predict`, end to end.

Both run the same SegFormer-B4 (18 labels, random weights from transformers' own initialisation, saved with
`save_pretrained`: speed does not depend on the values) on the same folder of synthetic 640x480 JPEG people, each
in its own process, in alternating rounds (ours, theirs, ours, theirs, ...), with the same number of threads:

* ours: `humanparse predict fashn_segformer_b4 MODEL_DIR photos/ --out DIR --threads T` (label PNGs written);
* theirs: `FashnHumanParser(MODEL_DIR).predict(path)` per photo, its label map saved as a PNG, run with the
  interpreter of a venv holding transformers and fashn-human-parser (`--reference-python`);
* int8 (`--int8`): `humanparse quantize` to an OpenVINO IR calibrated on the photos, then predicted the same way.

Each process reports its wall time (imports, model load and every photo), the time of the photos alone and its
peak resident memory (ru_maxrss). The speed-up is the reference's median over ours, per phase.

Accuracy (`--accuracy`): int8 on a trained SegFormer. A SegFormer-B0 (ATR's 18 classes, segformer_b2_clothes's
protocol) is trained from scratch on synthetic people in WORK/train (resumable; --train-epochs caps the total),
quantized with OpenVINO and ONNX Runtime (calibrated on training photos) and compared with fp32: label pixels
equal and the validation mIoU of both (`benchlib/int8_accuracy.py`, as `benchmarks/int8.py --accuracy` does for
CE2P). WORK defaults to humanparse's cache (/benchmarks/segformer) here, so training resumes between runs.

  python benchmarks/segformer.py --reference-python .venvs/hf/bin/python --images 8 --rounds 3 --int8
  OMP_NUM_THREADS=1 python benchmarks/segformer.py --accuracy --skip-speed --threads 1
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import cv2
import numpy as np
from benchlib.int8_accuracy import SEGFORMER_B0, add_training_arguments

ROOT = Path(__file__).resolve().parents[1]

# run in the reference venv: a random-weight B4 with FASHN's labels, written as transformers writes it
MAKE_MODEL = """
import sys, torch
from transformers import SegformerConfig, SegformerForSemanticSegmentation
torch.manual_seed(0)
config = SegformerConfig(depths=[3, 8, 27, 3], hidden_sizes=[64, 128, 320, 512], decoder_hidden_size=768, num_labels=18)
SegformerForSemanticSegmentation(config).eval().save_pretrained(sys.argv[1])
"""

# the reference: FashnHumanParser.predict per photo, as its README runs it, each label map saved
THEIRS = """
import json, resource, sys, time
start = time.perf_counter()
from pathlib import Path
import torch
torch.set_num_threads(int(sys.argv[4]))
import numpy as np
from PIL import Image
from fashn_human_parser import FashnHumanParser
parser = FashnHumanParser(model_id=sys.argv[1], device="cpu")
out = Path(sys.argv[3]); out.mkdir(parents=True, exist_ok=True)
photos = sorted(Path(sys.argv[2]).glob("*.jpg"))
begin = time.perf_counter()
for photo in photos:
    labels = parser.predict(str(photo))
    Image.fromarray(labels.astype(np.uint8)).save(out / (photo.stem + ".png"))
end = time.perf_counter()
print(json.dumps({"wall": end - start, "photos": end - begin, "count": len(photos),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# ours: the CLI in-process, so that the same clock reads the whole command
OURS = """
import json, resource, sys, time
start = time.perf_counter()
from humanparse.cli import main
argv = sys.argv[1:]
code = main(argv)
end = time.perf_counter()
assert code == 0, code
print(json.dumps({"wall": end - start, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference-python", default=".venvs/hf/bin/python")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--int8", action="store_true", help="also quantize (OpenVINO) and time the int8 file")
    parser.add_argument(
        "--work", help="a folder kept between runs (default: a temporary one; --accuracy: humanparse's cache)"
    )
    parser.add_argument("--skip-speed", action="store_true", help="only the accuracy part")
    parser.add_argument(
        "--accuracy", action="store_true", help="train a B0 (resumable), measure int8 accuracy"
    )
    parser.add_argument("--calib", type=int, default=8, help="calibration photos (default 8)")
    add_training_arguments(parser, SEGFORMER_B0, "B0, 224x224, AdamW 1e-3")
    return parser.parse_args(argv)


def make_photos(folder: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from humanparse.data.synth import render_sample

    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image, _ = render_sample("lip", (640, 480), np.random.default_rng([7, index]))
        cv2.imwrite(str(folder / f"photo{index:03d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])


def _json_line(output: str) -> Dict[str, float]:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def run_theirs(args, model: Path, photos: Path, out: Path) -> Dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    command = [args.reference_python, "-c", THEIRS, str(model), str(photos), str(out), str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the reference failed:\n{done.stderr[-2000:]}")
    return _json_line(done.stdout)


def run_ours(args, weights: Path, photos: Path, out: Path, config: Optional[str] = "fashn_segformer_b4"):
    shutil.rmtree(out, ignore_errors=True)  # a fresh folder: predict would skip photos already done
    argv = ["predict", *([config] if config else []), str(weights), str(photos), "--out", str(out)]
    argv += ["--threads", str(args.threads), "--batch-size", str(args.batch_size), "--no-progress"]
    done = subprocess.run(
        [sys.executable, "-c", OURS, *argv],
        capture_output=True,
        text=True,
        check=False,
        env={**_env(), "PYTHONPATH": str(ROOT)},
    )
    if done.returncode:
        raise SystemExit(f"humanparse predict failed:\n{done.stderr[-2000:]}")
    result = _json_line(done.stdout)
    # the pipeline's own summary: "...; 12.3 s, 0.65 images/s" (photos only, after the model is loaded)
    summary = [line for line in (done.stdout + done.stderr).splitlines() if "images/s" in line][-1]
    result["photos"] = float(summary.split("images/s")[0].rsplit(";", 1)[1].split(" s,")[0])
    return result


def _env() -> Dict[str, str]:
    import os

    return dict(os.environ)


def _median(rows: List[Dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def accuracy(args: argparse.Namespace) -> List[str]:
    """int8 against fp32 on a SegFormer-B0 trained here (see the module docstring)."""
    import torch
    from benchlib.int8_accuracy import measure_from_args
    from benchlib.machine import print_machine

    from humanparse.zoo.cache import cache_root

    torch.set_num_threads(args.threads)
    print_machine()  # the CPU beside the figures
    work = Path(args.work) if args.work else cache_root() / "benchmarks" / "segformer"
    return measure_from_args(SEGFORMER_B0, work, args)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.accuracy:
        print("\n".join(accuracy(args)))
        if args.skip_speed:
            return 0
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="humanparse-segformer-bench-"))
    model, photos = work / "fashn_b4_random", work / "photos"
    if not (model / "config.json").is_file():
        subprocess.run([args.reference_python, "-c", MAKE_MODEL, str(model)], check=True, capture_output=True)
    if len(list(photos.glob("*.jpg"))) != args.images:
        make_photos(photos, args.images)
    int8 = work / "fashn_b4_int8.xml"
    if args.int8 and not int8.is_file():
        command = [
            sys.executable,
            "-c",
            "import sys; from humanparse.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
        command += ["quantize", "fashn_segformer_b4", str(model), "--calib", str(photos), "--out", str(int8)]
        command += ["--num-images", str(max(1, args.images // 2)), "--no-progress"]
        done = subprocess.run(
            command, capture_output=True, text=True, env={**_env(), "PYTHONPATH": str(ROOT)}
        )
        if done.returncode:
            raise SystemExit(f"humanparse quantize failed:\n{done.stderr[-2000:]}")
        print([line for line in done.stdout.splitlines() if "agreement" in line][-1])
    results: Dict[str, List[Dict[str, float]]] = {
        "ours fp32": [],
        "FASHN predict": [],
        "ours int8 (OpenVINO)": [],
    }
    for round_index in range(args.rounds):
        results["ours fp32"].append(run_ours(args, model, photos, work / f"ours{round_index}"))
        results["FASHN predict"].append(run_theirs(args, model, photos, work / f"theirs{round_index}"))
        if args.int8:
            results["ours int8 (OpenVINO)"].append(
                run_ours(args, int8, photos, work / f"int8_{round_index}", None)
            )
        print(f"round {round_index + 1}/{args.rounds} done", flush=True)
    reference = results["FASHN predict"]
    print(
        f"\n{args.images} photos 640x480, SegFormer-B4 at 576x384, {args.threads} threads, {args.rounds} rounds"
    )
    print(f"{'run':<22} {'wall s':>8} {'photos s':>9} {'s/photo':>8} {'speed-up':>9} {'peak MiB':>9}")
    for name, rows in results.items():
        if not rows:
            continue
        wall, photos_s = _median(rows, "wall"), _median(rows, "photos")
        speedup = _median(reference, "photos") / photos_s
        print(
            f"{name:<22} {wall:8.1f} {photos_s:9.1f} {photos_s / args.images:8.2f} {speedup:8.2f}x "
            f"{_median(rows, 'peak_mib'):9.0f}"
        )
    equal = _label_agreement(work / "ours0", work / "theirs0")
    print(f"labels equal, ours fp32 vs FASHN predict (round 1): {100 * equal:.3f}%")
    return 0


def _label_agreement(ours: Path, theirs: Path) -> float:
    from PIL import Image

    equal = total = 0
    for path in sorted(theirs.glob("*.png")):
        a, b = np.asarray(Image.open(ours / path.name)), np.asarray(Image.open(path))
        equal += int((a == b).sum())
        total += a.size
    return equal / max(total, 1)


if __name__ == "__main__":
    sys.exit(main())
