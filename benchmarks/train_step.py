"""Training-step speed of our CE2P (+ CE2PLoss) against SSSegmentation 1.7.0's CE2P in TRAIN mode.

One step = forward + loss + backward + SGD update, batch 2 on 473x473 crops by default, both implementations
from the same weights, alternating, median of --repeats. The measuring code is benchlib/train_step.py.

  python benchmarks/train_step.py --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from humanparse.cli.options import add_benchmark_options

TRAIN_CONFIGS = ["ce2p_resnet50os16_lip", "ce2p_resnet101os16_lip"]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=TRAIN_CONFIGS, help="ce2p recipes")
    parser.add_argument("--batch", type=int, default=2, help="images per step (default 2)")
    parser.add_argument("--crop", type=int, default=473, help="square crop size (default 473)")
    add_benchmark_options(parser, size=False, warmup=1)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib.measure import settings_from_args
    from benchlib.train_step import benchmark_train_step, format_train_table

    args = parse_args(argv)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    settings = settings_from_args(args)
    rows = [benchmark_train_step(name, settings, batch=args.batch, crop=args.crop) for name in args.configs]
    print(format_train_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
