"""Inference speed, FLOP rate and memory of our networks against their reference implementations.

Runs the recipes of the "Performance and deployment" issue (CE2P ResNet-50/101 at output stride 8/16 on LIP
against SSSegmentation 1.7.0, CSENet against the official code, SCHP on its own) and prints one Markdown table
per precision. The measuring code is benchlib/ next to this script; see benchmarks/README.md for the columns.

  python benchmarks/inference.py --repeats 5 --csenet-repo /path/to/BSSGNet
  python benchmarks/inference.py --precision fp32 bf16 --backend onnxruntime
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from humanparse.cli.options import add_benchmark_options

ISSUE_CONFIGS = [
    "ce2p_resnet50os8_lip",
    "ce2p_resnet50os16_lip",
    "ce2p_resnet101os8_lip",
    "ce2p_resnet101os16_lip",
    "csenet_resnet101_lip",
    "schp_resnet101_lip",
]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=ISSUE_CONFIGS, help="recipes (default: the issue's)")
    parser.add_argument("--precision", nargs="+", default=["fp32"], choices=("fp32", "bf16", "fp16"))
    add_benchmark_options(parser)
    parser.add_argument("--csenet-repo", metavar="PATH", help="a clone of tjpulkl/BSSGNet (official CSENet)")
    parser.add_argument("--backend", nargs="+", default=["pytorch"], choices=("pytorch", "onnxruntime"))
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib.inference import run_benchmark
    from benchlib.measure import settings_from_args

    from humanparse.errors import HumanParseError

    args = parse_args(argv)
    for precision in args.precision:
        settings = settings_from_args(
            args,
            precision=precision,
            reference=True,
            memory=not args.no_memory,
            csenet_repo=args.csenet_repo,
            onnxruntime="onnxruntime" in args.backend,
        )
        try:
            print(run_benchmark(args.configs, settings), end="\n\n", flush=True)
        except HumanParseError as error:
            print(f"benchmarks/inference.py: error: {error}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
