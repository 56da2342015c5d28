"""Training-step speed of our CE2P (+ CE2PLoss) against SSSegmentation 1.7.0's CE2P in TRAIN mode.

One step = forward + loss + backward + SGD update, batch 2 on 473x473 crops by default, both implementations
from the same weights, alternating, median of --repeats. The measuring code is humanparse.benchmark.

  python benchmarks/train_step.py --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

TRAIN_CONFIGS = ["ce2p_resnet50os16_lip", "ce2p_resnet101os16_lip"]


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=TRAIN_CONFIGS, help="ce2p recipes")
    parser.add_argument("--batch", type=int, default=2, help="images per step (default 2)")
    parser.add_argument("--crop", type=int, default=473, help="square crop size (default 473)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per implementation (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from humanparse.benchmark import Settings, benchmark_train_step, format_train_table

    args = parse_args(argv)
    settings = Settings(device=args.device, repeats=args.repeats, warmup=args.warmup, threads=args.threads)
    rows = [benchmark_train_step(name, settings, batch=args.batch, crop=args.crop) for name in args.configs]
    print(format_train_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
