"""Cost of test-time augmentation: multi-scale + flip prediction of one image against the sum of its forward
passes run one at a time (target: no more than that sum; the flipped pass is batched with the plain one).

  python benchmarks/tta.py --configs csenet_resnet101_lip ce2p_resnet101os8_lip --repeats 3
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from humanparse.cli.options import add_benchmark_options


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--configs", nargs="+", default=["csenet_resnet101_lip", "ce2p_resnet50os16_lip"])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.75, 1.0, 1.25], help="test scales")
    parser.add_argument("--no-flip", action="store_true", help="scales only")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    add_benchmark_options(parser, repeats=3, warmup=1)  # --size is the photo's height; its width is 3/4 of it
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    from benchlib.measure import settings_from_args
    from benchlib.tta import tta_cost

    args = parse_args(argv)
    settings = settings_from_args(args, precision=args.precision)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    for name in args.configs:
        print(tta_cost(name, settings, args.scales, not args.no_flip), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
