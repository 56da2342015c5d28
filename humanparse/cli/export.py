"""Export a trained network to ONNX (parsing logits "seg", optionally the label map) and check it with onnxruntime.

The ONNX model takes a normalised image batch "image" (N, 3, H, W), normalised as the recipe's test pipeline
does, and returns "seg", the logits at about 1/4 of the input size; --with-argmax adds "labels" (N, H, W), the
argmax of "seg" upsampled to the input size. The file is checked against PyTorch before it is written (a
failed check writes nothing) and stores its recipe, so `humanparse predict OUT.onnx photos/ --out
parsed/ --backend onnxruntime` needs no config. Needs the onnx extra: pip install 'humanparse[onnx]'.

Example:
  humanparse export schp_resnet101_lip exp-schp-201908261155-lip.pth --onnx schp_lip.onnx --dynamic
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict

from humanparse.cli.options import add_input_size_option, add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe name (`humanparse configs`) or a YAML config file")
    parser.add_argument("checkpoint", help="weights: a humanparse checkpoint, a reference .pth or a zoo name")
    parser.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    add_input_size_option(parser, "the recipe's eval.input_size")
    parser.add_argument("--dynamic", action="store_true", help="symbolic batch, height and width")
    parser.add_argument(
        "--opset", type=int, default=17, help="ONNX opset, 11 to 20; CSENet needs 16 (default 17)"
    )
    parser.add_argument("--with-argmax", action="store_true", help="add the label map output 'labels'")
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    add_set_option(parser)


def run(args: argparse.Namespace) -> int:
    from humanparse.configs import load_config
    from humanparse.deploy.export import ExportMismatch, check_opset, export_onnx, verification_sizes
    from humanparse.errors import ConfigError
    from humanparse.models.weights import load_for_inference
    from humanparse.output_paths import check_output_file

    check_opset(args.opset)
    check_output_file(
        args.onnx,
        option="--onnx",
        inputs=[args.config, args.checkpoint],
        suffixes=[".onnx"],
        example_name="model.onnx",
    )
    config = load_config(args.config).override(args.overrides)
    input_size = tuple(args.input_size) if args.input_size else tuple(config.eval.input_size)
    if min(input_size) < 32:
        raise ConfigError(f"--input-size must be at least 32x32, got {input_size[0]}x{input_size[1]}")
    model = load_for_inference(config, args.checkpoint)
    config = model.config  # the recipe, with the network a Hugging Face folder's config.json describes
    errors: Dict[str, float] = {}
    try:
        path = export_onnx(
            model,
            args.onnx,
            input_size,
            dynamic=args.dynamic,
            opset=args.opset,
            with_argmax=args.with_argmax,
            verify=not args.no_verify,
            config=config,
            verification=errors,
        )
    except ExportMismatch as error:
        print(f"humanparse export: {error}", file=sys.stderr)
        return 1
    if errors:
        checked = ", ".join(f"{h}x{w}" for h, w in verification_sizes(input_size, args.dynamic))
        details = f"seg relative error {errors['seg']:.1e}"
        if "labels" in errors:
            details += f", labels differing {100 * errors['labels']:.3f}%"
        print(f"onnxruntime vs PyTorch at {checked}: {details}")
    print(
        f"wrote {path} ({config.name}, input {input_size[0]}x{input_size[1]}, opset {args.opset}, recipe stored)"
    )
    return 0
