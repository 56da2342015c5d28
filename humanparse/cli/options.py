"""Options several subcommands share, defined once so that they read and behave the same everywhere."""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path
from typing import Optional

# the runtimes `humanparse.inference.backends.create_predictor` knows (kept here so `--help` needs no torch import)
BACKENDS = ("torch", "onnxruntime", "openvino", "auto")
# model files written by `humanparse export` / `quantize`: they carry their recipe, and name their runtime
# an ONNX file: ONNX Runtime or OpenVINO, by measurement where both are installed (inference.runtimes.auto_runtime)
MODEL_FILE_BACKENDS = {".onnx": "auto", ".xml": "openvino"}
# photo suffixes `predict` reads (humanparse.inference.prediction_io.IMAGE_EXTENSIONS, repeated: no numpy import)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


DEVICES = ("cpu", "cuda")
DEMO_RECIPE = "ce2p_tiny_synthetic"  # what `humanparse demo` trains: it has only seen drawn people
DEMO_MODEL_NOTE = (
    "note: ce2p_tiny_synthetic is the demo's model, trained on synthetic (drawn) people only: on real photos "
    "expect wrong labels (a cap read as hair, a suit as a dress). `humanparse models` lists the networks "
    "trained on real photos."
)
_noted: set = set()  # the notes this process has printed: each one once


def note_demo_model(config_name: str) -> bool:
    """Print DEMO_MODEL_NOTE on stderr, once per process, when `config_name` is the demo's recipe; True if it
    was printed now. (The demo marks it as printed: its own photos are synthetic.)"""
    if config_name != DEMO_RECIPE or DEMO_RECIPE in _noted:
        return False
    import sys

    _noted.add(DEMO_RECIPE)
    print(DEMO_MODEL_NOTE, file=sys.stderr)
    return True


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """`--device cpu|cuda` -> `args.device`: the same choices, default and check in every command."""
    parser.add_argument("--device", default="cpu", choices=DEVICES, help="cpu (default) or cuda")


class DeprecatedAlias(argparse.Action):
    """An old spelling of an option: stores into the new option's dest (through `convert`) and says, once on
    stderr, which name replaces it. Old spellings keep working for one release."""

    def __init__(self, option_strings, dest, replacement: str = "", convert=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.replacement, self.convert = replacement, convert

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(
            f"{parser.prog}: note: {option_string} is deprecated and will be removed in the next release; "
            f"use {self.replacement}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, self.convert(values) if self.convert else values)


def add_batch_size_option(parser: argparse.ArgumentParser, what: str = "photos") -> None:
    """`--batch-size N` -> `args.batch_size` (default 1)."""
    parser.add_argument("--batch-size", type=int, default=1, help=f"{what} per forward pass (default 1)")


def add_input_size_option(parser: argparse.ArgumentParser, default_text: str) -> None:
    """`--input-size H W` -> `args.input_size` (None: `default_text`)."""
    parser.add_argument(
        "--input-size",
        type=int,
        nargs=2,
        metavar=("H", "W"),
        help=f"network input height and width (default: {default_text})",
    )


def add_pipeline_options(parser: argparse.ArgumentParser, threads_help: str) -> None:
    """`--batch-size`, `--workers`, `--threads`, `--max-pixels` -> `args.batch_size`, `args.workers`,
    `args.threads`, `args.max_pixels`: what the commands that stream photos through the predict pipeline
    (predict, tryon) take; `check_pipeline_options` checks them."""
    add_batch_size_option(parser)
    parser.add_argument(
        "--workers",
        type=int,
        help="decoding processes (default min(4, cores - 1), 0 on 2 cores or fewer; 0: in the main process)",
    )
    parser.add_argument("--threads", type=int, help=threads_help)
    parser.add_argument(
        "--max-pixels",
        type=float,
        default=40e6,
        help="photos of more pixels (width x height, read from the header) are listed in failed.jsonl, not "
        "decoded (default 40e6, as serve)",
    )


def check_pipeline_options(args: argparse.Namespace) -> None:
    """A ConfigError naming the first of `add_pipeline_options`' values out of range."""
    from humanparse.errors import ConfigError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    if not args.max_pixels > 0:
        raise ConfigError(f"--max-pixels must be positive, got {args.max_pixels:g}")


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


# humanparse.models.prepare.autotune.KERNEL_MODES, torch-free
KERNEL_CHOICES = ("auto", "winograd", "onednn", "openvino")


def add_kernels_option(parser: argparse.ArgumentParser) -> None:
    """`--kernels auto|winograd|onednn|openvino` -> `args.kernels` (None: $HUMANPARSE_KERNELS, else auto)."""
    parser.add_argument(
        "--kernels",
        choices=KERNEL_CHOICES,
        help="CPU kernels of a torch network: auto (default: measured once per CPU, threads, precision and input "
        "size, then cached; OpenVINO's compiled network is a candidate where OpenVINO is installed), winograd "
        "(NNPACK), onednn (PyTorch's), or openvino (the network compiled by OpenVINO); also $HUMANPARSE_KERNELS",
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
    add_device_option(parser)
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
        help="the runtime of the network (default: torch for checkpoints, openvino for .xml, and for .onnx auto: ONNX Runtime or OpenVINO, whichever was measured faster on this CPU, ONNX Runtime for int8 files)",
    )


def is_model_file(path: Optional[str]) -> bool:
    """Whether `path` is an existing .onnx / OpenVINO .xml file (which carries its recipe)."""
    return path is not None and Path(path).suffix.lower() in MODEL_FILE_BACKENDS and Path(path).is_file()


def looks_like_input(path: Optional[str]) -> bool:
    """Whether a positional given as weights names photos instead: a folder, an image file or a glob pattern."""
    if path is None:
        return False
    as_path = Path(path)
    if as_path.is_dir():
        return not (as_path / "config.json").is_file()  # a Hugging Face model folder is weights
    if as_path.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    return glob.has_magic(path) and not as_path.is_file()


def zoo_weights(config: Optional[str]) -> Optional[str]:
    """`config` itself when it is a model-zoo name (a recipe with published weights), else None."""
    if config is None or Path(config).suffix:  # a file path, not a recipe name
        return None
    from humanparse.zoo import get_entry

    return config if get_entry(config) is not None else None


def resolve_model_arguments(args: argparse.Namespace, positional: str = "") -> None:
    """Let `MODEL_FILE` stand for `CONFIG WEIGHTS`, and choose `args.backend` when it was not given.

    When `args.config` is a model file written by humanparse, it becomes `args.checkpoint` and `args.config`
    None (the recipe is read from the file); the positional that followed it moves into `args.<positional>`
    (predict's inputs). When the weights are left out (or predict's second positional is a folder, an image or
    a glob: an input, then), a model-zoo name stands for its own published weights; any other config gets a
    ConfigError saying the weights are missing. The backend defaults to the runtime of the weights' suffix.
    """
    from humanparse.errors import ConfigError

    if is_model_file(args.config):
        if positional:
            if args.checkpoint is not None:
                getattr(args, positional).insert(0, args.checkpoint)
        elif args.checkpoint is not None:
            raise ConfigError(
                f"{args.config} carries its recipe: give it alone, or a config and its weights, not both"
            )
        args.config, args.checkpoint = None, args.config
    else:
        taken_as_input = args.checkpoint if positional and looks_like_input(args.checkpoint) else None
        if taken_as_input is not None:
            getattr(args, positional).insert(0, taken_as_input)
            args.checkpoint = None
        if args.checkpoint is None:
            args.checkpoint = zoo_weights(args.config)
        if args.checkpoint is None:
            kind = "folder" if taken_as_input and Path(taken_as_input).is_dir() else "photo"
            what = f"{taken_as_input!r} is a {kind} to parse, not weights, and " if taken_as_input else ""
            raise ConfigError(
                f"{what}no weights were given for {args.config!r}, which has none published in the model zoo: "
                f"give them after the config (a .pth or a model file), e.g. `CONFIG WEIGHTS"
                f"{' INPUT...' if positional else ''}`"
            )
    if args.backend is None:
        from humanparse.zoo.table import weights_suffix

        args.backend = MODEL_FILE_BACKENDS.get(weights_suffix(args.checkpoint), "torch")


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
    from humanparse.data.labels import check_model_classes

    if args.config is None:
        from humanparse.inference.metadata import config_from_model_file
        from humanparse.inference.thirdparty import identify

        known = identify(args.checkpoint)  # OOTDiffusion's parsing_*.onnx: its SCHP recipe
        if known is not None:
            from humanparse.configs import load_config

            config = load_config(known.recipe).override(args.overrides)
        else:
            config = config_from_model_file(args.checkpoint).override(args.overrides)
    else:
        from humanparse.configs import load_config

        config = load_config(args.config).override(args.overrides)
    check_model_classes(config)
    return config


def passive_openmp_threads() -> None:
    """Let torch's OpenMP threads sleep when idle (`OMP_WAIT_POLICY=PASSIVE`), unless the user chose a policy.

    By default they spin between operators. In `predict`, `tryon` and `serve` the decoding workers, the writer
    or request threads and OpenCV share the cores with them, and the spinning takes the CPU those need: on 2
    cores, under contention,
    the local pipeline spent 2.7x the CPU time per photo with spinning threads (the network alone: 2.6x). The
    OpenMP runtime reads the variable once, when torch loads, so this must run before torch is imported; later
    it changes nothing.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
