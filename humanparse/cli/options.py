"""Options several subcommands share, defined once so that they read and behave the same everywhere."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

# the runtimes `humanparse.inference.backends.create_predictor` knows (kept here so `--help` needs no torch import)
BACKENDS = ("torch", "onnxruntime", "openvino")
# model files written by `humanparse export` / `quantize`: they carry their recipe, and name their runtime
MODEL_FILE_BACKENDS = {".onnx": "onnxruntime", ".xml": "openvino"}


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
    """`--backend torch|onnxruntime|openvino` -> `args.backend` (None: chosen from the weights file's suffix)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="the runtime of the network (default: onnxruntime for .onnx, openvino for .xml, else torch)",
    )


def is_model_file(path: Optional[str]) -> bool:
    """Whether `path` is an existing .onnx / OpenVINO .xml file (which carries its recipe)."""
    return path is not None and Path(path).suffix.lower() in MODEL_FILE_BACKENDS and Path(path).is_file()


def resolve_model_arguments(args: argparse.Namespace, positional: str = "") -> None:
    """Let `MODEL_FILE` stand for `CONFIG WEIGHTS`, and choose `args.backend` when it was not given.

    When `args.config` is a model file written by humanparse, it becomes `args.checkpoint` and `args.config`
    None (the recipe is read from the file); the positional that followed it moves into `args.<positional>`
    (predict's inputs). The backend defaults to the runtime of the weights' suffix, else torch.
    """
    if is_model_file(args.config):
        if positional:
            if args.checkpoint is not None:
                getattr(args, positional).insert(0, args.checkpoint)
        elif args.checkpoint is not None:
            from humanparse.errors import ConfigError

            raise ConfigError(
                f"{args.config} carries its recipe: give it alone, or a config and its weights, not both"
            )
        args.config, args.checkpoint = None, args.config
    elif args.checkpoint is None:
        from humanparse.errors import ConfigError

        raise ConfigError(
            f"give the weights after the config {args.config!r} (a .pth, a zoo name or a model file)"
        )
    if args.backend is None:
        args.backend = MODEL_FILE_BACKENDS.get(Path(args.checkpoint).suffix.lower(), "torch")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional `CONFIG [CHECKPOINT]` of the commands that run a trained network (predict, test, serve)."""
    parser.add_argument(
        "config",
        help="a recipe name (`humanparse configs`) or a YAML config file; or a model file from `humanparse "
        "export`/`quantize` (.onnx, .xml), which carries its recipe, in place of CONFIG CHECKPOINT",
    )
    parser.add_argument(
        "checkpoint",
        nargs="?",
        help="weights: a humanparse/reference .pth, a zoo name, or an .onnx/.xml model file",
    )


def load_model_config(args: argparse.Namespace):
    """The Config of `resolve_model_arguments`'s result: the recipe stored in a model file, or the named one;
    `--set` overrides applied."""
    if args.config is None:
        from humanparse.inference.metadata import config_from_model_file
        from humanparse.inference.thirdparty import identify

        known = identify(args.checkpoint)  # OOTDiffusion's parsing_*.onnx: its SCHP recipe
        if known is not None:
            from humanparse.configs import load_config

            return load_config(known.recipe).override(args.overrides)
        return config_from_model_file(args.checkpoint).override(args.overrides)
    from humanparse.configs import load_config

    return load_config(args.config).override(args.overrides)
