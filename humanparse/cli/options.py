"""Options several subcommands share, defined once so that they read and behave the same everywhere."""

from __future__ import annotations

import argparse
from typing import Optional

# the runtimes `humanparse.engine.backends.create_predictor` knows (kept here so `--help` needs no torch import)
BACKENDS = ("torch", "onnxruntime")


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """`--set KEY=VALUE ...` (repeatable) -> `args.overrides`, applied with `Config.override`."""
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override recipe values (parsed as YAML; text fields taken as typed; each checked against its field's "
        "type and range; repeatable), e.g. --set train.lr=0.02 model.width=0.5",
    )


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    """`--precision fp32|bf16|fp16` -> `args.precision`."""
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "fp16"],
        help="fp32 (default); bf16/fp16 run the network under autocast (bf16 pays off on CPUs with AVX-512 BF16 "
        "or AMX and on GPUs; fp16 needs a GPU)",
    )


def add_tta_options(parser: argparse.ArgumentParser) -> None:
    """`--scales S ...` and `--flip/--no-flip` -> `args.scales`, `args.flip` (None: the recipe's)."""
    parser.add_argument(
        "--scales", type=float, nargs="+", metavar="S", help="test scales (default: the recipe's eval.scales)"
    )
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None, help="add flipped passes")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="no flipped passes")


def add_benchmark_options(
    parser: argparse.ArgumentParser,
    *,
    size: bool = True,
    default_size: Optional[int] = 473,
    repeats: int = 5,
    warmup: int = 2,
) -> None:
    """--size, --device, --repeats, --warmup, --threads: what every timing front end takes (`humanparse
    benchmark` and the scripts under benchmarks/). `default_size` None means the recipe's input size."""
    if size:
        shown = "the recipe's input size" if default_size is None else default_size
        parser.add_argument(
            "--size", type=int, default=default_size, help=f"square input size (default {shown})"
        )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument(
        "--repeats", type=int, default=repeats, help=f"timed runs per implementation (default {repeats})"
    )
    parser.add_argument("--warmup", type=int, default=warmup, help=f"untimed runs first (default {warmup})")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """`--backend torch|onnxruntime` -> `args.backend` (the runtime of the network)."""
    parser.add_argument(
        "--backend",
        default="torch",
        choices=BACKENDS,
        help="torch (default: a .pth checkpoint or zoo name) or onnxruntime (an .onnx file from `humanparse export`)",
    )
