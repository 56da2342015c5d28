"""`humanparse tryon` against OOTDiffusion's own preprocessing chain, as OOTDiffusion runs it on the CPU.

Reference (per photo): `Image.open().resize((768, 1024))`, `parsing_api.onnx_inference` with two onnxruntime CPU
sessions made as `run_parsing.Parsing` makes them (ORT_ENABLE_ALL, sequential), `utils_ootd.get_mask_location`,
the NEAREST resizes and `Image.composite`; imported at run time from a scratch copy of levihsu/OOTDiffusion
(--reference), with torchvision's ToTensor/Normalize stood in (not installed here).
Ours (per photo): `TryonPredictor(photo, keypoints)`, the same outputs, on
  * fp32: the same two ONNX files (onnxruntime), and the same networks as humanparse checkpoints (PyTorch);
  * int8: both files quantized by `humanparse quantize` (OpenVINO), calibrated on synthetic people.
The networks are humanparse's full-size schp_resnet101_atr / _lip with seeded random weights, exported with
OOTDiffusion's ONNX interface (speed does not depend on the weights). Implementations take turns photo by photo,
in an order that alternates between rounds; the figure is the median over rounds of the mean time per photo.
With --agreement, int8 mask agreement with fp32 is measured on the fixture networks (tests/fixtures/tryon: small
SCHP networks whose last layer was fitted, i.e. structured outputs but not a trained network): a proxy.
With --accuracy, the issue's measure: two SCHP networks scaled down (width 1/4, one block per stage) are trained
on synthetic people in WORK (resumable: run again to continue; about 10 CPU minutes each at 1 thread), quantized like
the speed part's, and fp32 and int8 try-on outputs are compared for every category and model type (see
benchlib/tryon_accuracy.py).

  nice -n 10 python benchmarks/tryon.py --reference /tmp/tryon_ref/OOTDiffusion --threads 2
  OMP_NUM_THREADS=1 python benchmarks/tryon.py --skip-speed --accuracy --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from benchlib.int8_accuracy import AGREEMENT_TARGET  # noqa: E402  (int8 labels/masks equal to fp32: 99%)
from benchlib.training import synthetic_photos  # noqa: E402
from benchlib.tryon_accuracy import tryon_agreement  # noqa: E402

FP32_TARGET = 1.3
INT8_TARGET = 3.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--reference", help="scratch copy of levihsu/OOTDiffusion (needed for the speed part)"
    )
    parser.add_argument("--work", default=os.path.expanduser("~/.cache/humanparse/benchmarks/tryon"))
    parser.add_argument("--skip-speed", action="store_true", help="only --agreement / --accuracy")
    parser.add_argument("--photos", type=int, default=3, help="timed photos per round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for every implementation")
    parser.add_argument("--skip-int8", action="store_true")
    parser.add_argument(
        "--agreement", action="store_true", help="also int8 vs fp32 mask agreement on the fixture networks"
    )
    parser.add_argument(
        "--accuracy",
        action="store_true",
        help="train two small SCHP networks (resumable), int8 vs fp32 outputs",
    )
    parser.add_argument(
        "--train-epochs", type=int, default=None, help="--accuracy: total epochs (default 15)"
    )
    parser.add_argument(
        "--eval-photos", type=int, default=12, help="--accuracy: compared photos (default 12)"
    )
    parser.add_argument("--calib", type=int, default=20, help="--accuracy: calibration photos (default 20)")
    args = parser.parse_args()
    if not args.skip_speed and not args.reference:
        parser.error("--reference is needed for the speed part (or give --skip-speed)")
    return args


def reference_chain(repo: Path, atr: Path, lip: Path, threads: int) -> Callable[[Path, dict], tuple]:
    """OOTDiffusion's steps for one photo (their functions, imported from the scratch copy)."""
    import onnxruntime as ort
    from benchlib.references import install_torchvision_stand_in

    install_torchvision_stand_in()
    sys.path.insert(0, str(repo / "run"))
    sys.path.insert(0, str(repo / "preprocess" / "humanparsing"))
    from parsing_api import onnx_inference  # noqa: E402  (theirs, at run time)
    from utils_ootd import get_mask_location  # noqa: E402

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = threads
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in (atr, lip)]

    def run(photo: Path, keypoints: dict):
        model_img = Image.open(photo).resize((768, 1024))
        parse, _ = onnx_inference(sessions[0], sessions[1], model_img.resize((384, 512)))
        mask, gray = get_mask_location("hd", "upper_body", parse, keypoints)
        mask = mask.resize((768, 1024), Image.NEAREST)
        gray = gray.resize((768, 1024), Image.NEAREST)
        return parse, mask, Image.composite(gray, model_img, mask)

    return run


def make_networks(work: Path) -> Dict[str, Path]:
    """Full-size SCHP ATR/LIP (seeded random weights) as OOTDiffusion-interface ONNX files and checkpoints."""
    import tryon_network as tn

    from humanparse import build_model
    from humanparse.configs import get_config
    from humanparse.models.checkpoint_io import atomic_torch_save, checkpoint_dict

    files = {}
    for kind, size in (("atr", 512), ("lip", 473)):
        onnx_path, checkpoint = work / f"parsing_{kind}.onnx", work / f"schp_{kind}.pth"
        if not onnx_path.is_file() or not checkpoint.is_file():
            torch.manual_seed(tn.SEEDS[kind])
            config = get_config(tn.RECIPES[kind])
            model = build_model(config).eval()
            tn.export_ootd_onnx(model, onnx_path, size)
            atomic_torch_save(checkpoint_dict(model, config), checkpoint)
        files[kind], files[f"{kind}_pth"] = onnx_path, checkpoint
    return files


def time_rounds(
    implementations: Dict[str, Callable[[Path], object]], photos: List[Path], rounds: int
) -> Dict:
    names = list(implementations)
    for name in names:  # warm-up
        implementations[name](photos[0])
    per_round = {name: [] for name in names}
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        totals = {name: 0.0 for name in names}
        for photo in photos:
            for name in order:
                start = time.perf_counter()
                implementations[name](photo)
                totals[name] += time.perf_counter() - start
        for name in names:
            per_round[name].append(totals[name] / len(photos))
        print(
            f"round {round_index + 1}: "
            + ", ".join(f"{n} {1000 * totals[n] / len(photos):.0f} ms" for n in names)
        )
    return {name: statistics.median(values) for name, values in per_round.items()}


def mask_agreement(work: Path, photos: List[Path]) -> float:
    """int8 vs fp32 masks (upper_body, hd, pose-free) with the fixture networks (fitted last layer)."""
    import tryon_network as tn

    from humanparse.deploy.quantize import quantize_model_file

    heads = np.load(tn.FIXTURES / "heads.npz")
    files, int8 = {}, {}
    calibration = synthetic_photos(work / "calib", 24, 5)
    for kind, size in (("atr", 512), ("lip", 473)):
        files[kind] = tn.export_ootd_onnx(
            tn.fixture_network(kind, heads), work / f"fixture_{kind}.onnx", size
        )
        int8[kind] = work / f"fixture_{kind}_int8.xml"
        quantize_model_file(files[kind], calibration, int8[kind], num_images=20)
    return tryon_agreement(files, int8, photos)["upper_body/hd/pose-free"]


def main() -> int:
    args = parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    if not args.skip_speed:
        speed(args, work)
    if args.agreement:
        photos = synthetic_photos(work / "photos", args.photos, 1)
        share = mask_agreement(work, photos)
        print(f"int8 vs fp32 mask pixels equal (fixture networks, a proxy): {100 * share:.2f}% "
              f"({'PASS' if share >= AGREEMENT_TARGET else 'MISS'} {100 * AGREEMENT_TARGET:.0f}%)")  # fmt: skip
    if args.accuracy:
        from benchlib import tryon_accuracy

        epochs = args.train_epochs or tryon_accuracy.EPOCHS
        lines, shares = tryon_accuracy.measure(work / "trained", epochs, args.eval_photos, args.calib)
        worst = min(share for name, share in shares.items() if name != "parse")
        verdict = "PASS" if worst >= AGREEMENT_TARGET else "MISS"
        lines.append(f"worst mask agreement {100 * worst:.2f}% ({verdict} {100 * AGREEMENT_TARGET:.0f}%)")
        print("\n".join(lines))
    return 0


def speed(args: argparse.Namespace, work: Path) -> None:
    """fp32 and int8 `humanparse tryon` against OOTDiffusion's chain, in alternating rounds."""
    from humanparse.deploy.quantize import quantize_model_file
    from humanparse.tryon import OotdProtocol, build_tryon_predictor

    files = make_networks(work)
    photos = synthetic_photos(work / "photos", args.photos, 1)
    keypoints = {"pose_keypoints_2d": [[0.0, 0.0]] * 18}
    theirs = reference_chain(Path(args.reference), files["atr"], files["lip"], args.threads)
    implementations = {"OOTDiffusion (onnxruntime fp32)": lambda p: theirs(p, keypoints)}
    same_files = {"atr": files["atr"], "lip": files["lip"]}
    ours_onnx = build_tryon_predictor(OotdProtocol(), same_files, backend="onnxruntime")
    implementations["ours (onnxruntime fp32, same files)"] = lambda p: ours_onnx(p)
    ours_openvino = build_tryon_predictor(OotdProtocol(), same_files, backend="openvino")
    implementations["ours (OpenVINO fp32, same files)"] = lambda p: ours_openvino(p)
    ours_auto = build_tryon_predictor(OotdProtocol(), same_files)  # the default: the runtime measured faster
    implementations["ours (default, same files)"] = lambda p: ours_auto(p)
    ours_torch = build_tryon_predictor(OotdProtocol(), {"atr": files["atr_pth"], "lip": files["lip_pth"]})
    # the checkpoints on the torch runtime: PyTorch's kernels or OpenVINO's compiled network, as measured
    implementations["ours (checkpoints, fp32)"] = lambda p: ours_torch(p)
    if not args.skip_int8:
        calibration = synthetic_photos(work / "calib", 24, 5)
        int8 = {}
        for kind in ("atr", "lip"):
            int8[kind] = work / f"{kind}_int8.xml"
            if not int8[kind].is_file():
                quantize_model_file(files[kind], calibration, int8[kind], num_images=20)
        ours_int8 = build_tryon_predictor(OotdProtocol(), int8)
        implementations["ours (OpenVINO int8)"] = lambda p: ours_int8(p)
    medians = time_rounds(implementations, photos, args.rounds)
    reference = medians["OOTDiffusion (onnxruntime fp32)"]
    print(f"\nper photo (median of {args.rounds} rounds x {len(photos)} photos, {args.threads} threads):")
    for name, seconds in medians.items():
        speedup = reference / seconds
        target = INT8_TARGET if "int8" in name else FP32_TARGET
        mark = (
            ""
            if name.startswith("OOTD")
            else f"  {speedup:.2f}x ({'PASS' if speedup >= target else 'MISS'} {target}x)"
        )
        print(f"  {name}: {1000 * seconds:.0f} ms{mark}")


if __name__ == "__main__":
    sys.exit(main())
