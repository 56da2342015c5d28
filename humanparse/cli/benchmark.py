"""Time a network's inference (and, with --reference, compare it with the reference implementation).

For each recipe: the median time of a batch-1 forward on random weights, its GFLOP/s and the fraction of the
measured convolution peak (one 256->256 3x3 conv at 119x119 in the same dtype), and the peak memory of one
forward in a fresh process. With --reference the reference implementation (SSSegmentation 1.7.0 for ce2p_*,
the official CSENet code for csenet_* via --csenet-repo) gets the same weights and runs alternately with ours;
the row adds its time and memory, the speed-up, our logits' relative error and argmax agreement, and PASS/MISS
against the issue's target. Nothing is installed: a missing reference is reported in its row.

Example:
  humanparse benchmark ce2p_resnet50os16_lip schp_resnet101_lip --repeats 3 --reference
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_benchmark_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="recipe names (`humanparse configs`)")
    add_benchmark_options(parser)
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="default fp32")
    parser.add_argument("--reference", action="store_true", help="compare with the reference implementation")
    parser.add_argument("--csenet-repo", metavar="PATH", help="a clone of tjpulkl/BSSGNet (official CSENet)")
    parser.add_argument(
        "--backend",
        nargs="+",
        default=["pytorch"],
        choices=("pytorch", "onnxruntime"),
        help="onnxruntime adds our ONNX export's time on onnxruntime's CPU provider",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")


def run(args: argparse.Namespace) -> int:
    from humanparse.benchmark import run_benchmark, settings_from_args

    settings = settings_from_args(
        args,
        precision=args.precision,
        reference=args.reference,
        memory=not args.no_memory,
        csenet_repo=args.csenet_repo,
        onnxruntime="onnxruntime" in args.backend,
    )
    print(run_benchmark(args.configs, settings))
    return 0
