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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="recipe names (`humanparse configs`)")
    parser.add_argument("--size", type=int, default=473, help="square input size (default 473)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32", help="default fp32")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per implementation (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
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
    from humanparse.benchmark import Settings, run_benchmark

    settings = Settings(
        size=args.size,
        precision=args.precision,
        device=args.device,
        repeats=args.repeats,
        warmup=args.warmup,
        threads=args.threads,
        reference=args.reference,
        memory=not args.no_memory,
        csenet_repo=args.csenet_repo,
        onnxruntime="onnxruntime" in args.backend,
    )
    print(run_benchmark(args.configs, settings))
    return 0
