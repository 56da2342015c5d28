"""Reduced precision against fp32 on a trained model: argmax agreement and logits relative error.

Targets (issues "Performance and deployment" and 23): at least 99.9% argmax agreement and at most 2e-2 relative error of
the logits, on a model trained by the demo. Takes any humanparse checkpoint (it carries its config):

  python -m humanparse demo --out humanparse_demo
  python benchmarks/precision_agreement.py humanparse_demo/run/best.pth --data-root humanparse_demo/data
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", help="a humanparse checkpoint (e.g. the demo's run/best.pth)")
    parser.add_argument("--data-root", required=True, help="the dataset it was trained on")
    parser.add_argument("--precision", default="bf16", choices=["bf16", "fp16"], help="default bf16")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--limit", type=int, default=20, help="validation images to compare (default 20)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib.precision import precision_agreement

    args = parse_args(argv)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    print(precision_agreement(args.checkpoint, args.data_root, args.precision, args.device, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
