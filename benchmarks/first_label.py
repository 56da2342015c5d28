"""Time to the first label: one photo, process start included, `humanparse predict` against SCHP's script.

Many users run a CLI on a handful of photos, so what counts is the whole process: import, build, load, prepare
and one photo. Three runs take turns (`--rounds` times, medians):

* `humanparse predict schp_resnet101_lip` on one 640x480 photo with an empty kernel-choice cache (it measures);
* the same with the cache the previous run wrote (what every later run pays);
* SCHP's own `simple_extractor.py` (`--schp-repo`, a clone of GoGoDuck912/Self-Correction-Human-Parsing) on the
  same photo with the same random weights, on the CPU (`.cuda()` made a no-op, InPlace-ABN and torchvision's
  ToTensor/Normalize replaced by stand-ins with the same arithmetic, see predict_pipeline.py).

Then one process prints where our time goes: import, the network ready (loaded, prepared, and compiled by
OpenVINO where that was measured faster; cold / cached choice), first photo.

  python benchmarks/first_label.py --schp-repo /tmp/schp --rounds 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

BENCHMARKS = Path(__file__).resolve().parent

BREAKDOWN = """
import time
start = time.perf_counter()
import torch
from humanparse.configs import load_config
from humanparse.inference.predictor import Predictor
from humanparse.inference.runtimes import ModelSpec, build_network
imported = time.perf_counter()
config = load_config("schp_resnet101_lip")
network = build_network(ModelSpec(config, {weights!r}), "torch", "cpu")
built = time.perf_counter()
labels = Predictor(config, network=network)({photo!r})
done = time.perf_counter()
print(f"import {{imported - start:.2f}} s, network ready {{built - imported:.2f}} s ({{network.kernels.engine}}, "
      f"{{network.kernels.source}}; of which choosing {{network.kernels.seconds:.2f}} s), "
      f"first photo {{done - built:.2f}} s")
"""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--schp-repo", help="a clone of Self-Correction-Human-Parsing (the reference)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    sys.path.insert(0, str(BENCHMARKS))
    from benchlib.machine import print_machine
    from benchlib.processes import benchmark_env, timed_run
    from benchlib.schp_reference import simple_extractor_command, simple_extractor_weights
    from predict_pipeline import make_photos

    args = parse_args(argv)
    if not args.schp_repo:
        print(
            "first_label.py: error: --schp-repo is needed (the weights are made with its networks)",
            file=sys.stderr,
        )
        return 2
    print_machine()
    env = benchmark_env()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        photo = make_photos(work / "photos", 1)[0]
        weights = simple_extractor_weights(args.schp_repo, work / "schp.pth")
        reference = simple_extractor_command(args.schp_repo, weights, photo.parent, work / "reference")
        times: Dict[str, List[float]] = {
            "ours, empty cache": [],
            "ours, cached choice": [],
            "simple_extractor.py": [],
        }
        for round_index in range(args.rounds):
            cache = work / f"cache{round_index}"
            ours = [sys.executable, "-m", "humanparse", "predict", "schp_resnet101_lip", str(weights), str(photo),
                    "--out", str(work / f"ours{round_index}"), "--workers", "0", "--no-progress", "--overwrite"]  # fmt: skip
            ours_env = dict(env, HUMANPARSE_CACHE=str(cache))
            times["ours, empty cache"].append(timed_run(ours, ours_env))
            times["simple_extractor.py"].append(timed_run(reference, env))
            times["ours, cached choice"].append(timed_run(ours, ours_env))
        theirs = float(np.median(times["simple_extractor.py"]))
        print(f"one 640x480 photo, process start to label PNG, medians of {args.rounds} alternating rounds:")
        for name, values in times.items():
            value = float(np.median(values))
            print(f"  {name:22s} {value:6.2f} s  ({theirs / value:.2f}x simple_extractor.py)")
        for cache in ("cold", "warm"):
            script = BREAKDOWN.format(weights=str(weights), photo=str(photo))
            result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                    env=dict(env, HUMANPARSE_CACHE=str(work / "breakdown")))  # fmt: skip
            print(f"  ours, {cache} cache: {result.stdout.strip() or result.stderr[-500:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
