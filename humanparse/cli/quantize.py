"""Quantize a trained network to int8 for CPUs (OpenVINO or ONNX Runtime), calibrated on your own photos.

Post-training static quantization: the photos go through the recipe's test transform, the runtime's own
quantizer (NNCF for OpenVINO, quantize_static for ONNX Runtime) sets the int8 ranges, and the final classifiers
stay in float. It then reports the label agreement with fp32 on held-out photos of CALIB, and with --val (a
labelled dataset root of the recipe's layout) the validation mIoU of fp32 and int8. The file stores its recipe:
  humanparse quantize ce2p_resnet101os8_lip ce2p.pth --calib photos/ --out ce2p_int8.xml
  humanparse predict ce2p_resnet101os8_lip ce2p_int8.xml photos/ --out parsed/ --backend openvino
Needs pip install 'humanparse[openvino]' (OpenVINO, .xml) or 'humanparse[onnx]' (ONNX Runtime, .onnx).
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config",
        help="a recipe name (`humanparse configs`) or a YAML config file; or OOTDiffusion's parsing_atr.onnx / "
        "parsing_lip.onnx alone",
    )
    parser.add_argument(
        "checkpoint", nargs="?", help="weights: a humanparse checkpoint, a reference .pth or a zoo name"
    )
    parser.add_argument(
        "--calib", required=True, metavar="DIR", help="a folder of photos (calibration, held-out)"
    )
    parser.add_argument(
        "--num-images",
        type=int,
        default=100,
        help="photos to calibrate on; the next ones check it (default 100)",
    )
    parser.add_argument(
        "--out", required=True, metavar="PATH", help="the int8 model: .xml (OpenVINO) or .onnx"
    )
    parser.add_argument(
        "--backend",
        choices=("openvino", "onnxruntime"),
        help="the runtime the file is for (default: from --out, .xml openvino, .onnx onnxruntime)",
    )
    parser.add_argument(
        "--val", metavar="DIR", help="a labelled dataset root: also report fp32 and int8 mIoU"
    )
    parser.add_argument(
        "--dynamic",
        action="store_true",
        default=None,
        help="any input size (default: only when the recipe uses several sizes or scales)",
    )
    add_set_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from humanparse.deploy.quantize import SUFFIXES, backend_for, quantize
    from humanparse.errors import DataError
    from humanparse.inference.prediction_io import collect_images
    from humanparse.inference.predictor import resolve_config
    from humanparse.output_paths import check_output_file

    backend = backend_for(args.out, args.backend)
    check_output_file(
        args.out,
        option="--out",
        inputs=[path for path in (args.config, args.checkpoint) if path],
        suffixes=[SUFFIXES[backend]],
        example_name=f"model_int8{SUFFIXES[backend]}",
    )
    if not Path(args.calib).is_dir():
        what = "a file" if Path(args.calib).exists() else "not found"
        raise DataError(f"--calib {args.calib}: {what}, not a folder of photos")
    if args.checkpoint is None:  # a model file that names its own recipe (OOTDiffusion's parsing_*.onnx)
        from humanparse.deploy.quantize import quantize_model_file

        report = quantize_model_file(
            args.config,
            collect_images([args.calib]),
            args.out,
            backend=args.backend,
            num_images=args.num_images,
        )
        for line in report.lines():
            print(line)
        return 0
    config = resolve_config(args.config).override(args.overrides)
    report = quantize(
        config,
        args.checkpoint,
        collect_images([args.calib]),
        args.out,
        backend=backend,
        num_images=args.num_images,
        val_root=args.val,
        dynamic=args.dynamic,
        progress=not args.no_progress,
    )
    for line in report.lines():
        print(line)
    return 0
