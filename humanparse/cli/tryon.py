"""Make try-on inputs as OOTDiffusion / IDM-VTON make them: parse map, agnostic masks and masked photo per photo.

For each photo <stem>: <stem>_parse.png (19 classes: ATR + 18 neck, 384x512, palette), <stem>_mask.png (0/255,
768x1024), <stem>_mask_gray.png (0/127) and <stem>_masked.png (the photo with the mask grey, lossless), equal to
what their preprocessing writes for the same weights. --atr / --lip take a zoo name, a checkpoint, a humanparse
model file (.onnx, .xml, fp32 or int8) or OOTDiffusion's own parsing_atr.onnx / parsing_lip.onnx. Without
--keypoints the masks are pose-free (each arm as parsed, as the reference does for an undetected wrist).
Streams, resumes and never writes over an input, as `humanparse predict` does:
  humanparse tryon photos/ --out tryon/ --keypoints openpose_json/ --category upper_body --model-type hd \\
      --atr parsing_atr.onnx --lip parsing_lip.onnx
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import (
    BACKENDS,
    add_device_option,
    add_pipeline_options,
    check_pipeline_options,
    passive_openmp_threads,
)
from humanparse.cli.photo_runs import pipeline_progress, report_run

CATEGORIES = ("upper_body", "lower_body", "dresses")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs", nargs="+", metavar="PHOTO|FOLDER", help="image files, folders or glob patterns"
    )
    parser.add_argument("--out", required=True, help="output folder (never one that would replace an input)")
    parser.add_argument(
        "--keypoints",
        metavar="FILE|FOLDER",
        help="OpenPose body keypoints: a JSON file (one photo) or a folder of <stem>.json / <stem>_keypoints.json "
        "(OOTDiffusion's {pose_keypoints_2d: [[x, y] x 18]} at 384x512, or OpenPose/VITON-HD's people[0]); "
        "default: pose-free masks",
    )
    parser.add_argument("--category", default="upper_body", choices=CATEGORIES, help="default upper_body")
    parser.add_argument(
        "--model-type", default="hd", choices=("hd", "dc"), help="arm band 60 (hd, default) or 45 (dc)"
    )
    parser.add_argument(
        "--atr", metavar="MODEL", help="the ATR network (default schp_resnet101_atr): zoo name, checkpoint, "
        ".onnx/.xml (humanparse's or OOTDiffusion's parsing_atr.onnx)",
    )  # fmt: skip
    parser.add_argument(
        "--lip", metavar="MODEL", help="the LIP network (default schp_resnet101_lip), as --atr"
    )
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="runtime of .onnx/.xml files (default: openvino for .xml; for .onnx auto: ONNX Runtime or OpenVINO, "
        "whichever was measured faster on this CPU); checkpoints and zoo names run on torch",
    )
    add_device_option(parser)
    add_pipeline_options(parser, threads_help="torch CPU threads (default: all cores)")
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose outputs already exist")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    passive_openmp_threads()  # before torch loads (see there)
    from pathlib import Path

    import torch

    from humanparse.inference.pipeline import default_workers, place, run_pipeline
    from humanparse.inference.prediction_io import check_mask_names, check_out_folder, plan_inputs
    from humanparse.output_paths import check_output_folder
    from humanparse.tryon.keypoints import keypoints_for
    from humanparse.tryon.protocols.ootd import OotdProtocol
    from humanparse.tryon.runner import TryonOutputs, build_tryon_predictor

    check_pipeline_options(args)
    protocol = OotdProtocol(args.category, args.model_type)
    out = Path(args.out)
    check_output_folder(out, option="--out", inputs=[args.keypoints, args.atr, args.lip])
    items = plan_inputs(args.inputs, None, out)
    outputs = TryonOutputs(protocol)
    check_out_folder(out, items, outputs.suffixes)
    check_mask_names(items, outputs.suffixes)
    outputs.keypoints = keypoints_for(args.keypoints, [(item.relative, item.source) for item in items])
    placement = place(args.device, None, args.threads)
    if placement.device.type == "cpu":
        torch.set_num_threads(placement.threads)
    predictor = build_tryon_predictor(
        protocol, {"atr": args.atr, "lip": args.lip}, args.backend, placement.device
    )
    workers = args.workers if args.workers is not None else default_workers(placement.threads)
    with pipeline_progress("tryon", not args.no_progress) as (on_plan, progress):
        summary = run_pipeline(
            predictor,
            items,
            out,
            outputs,
            batch_size=args.batch_size,
            workers=workers,
            overwrite=args.overwrite,
            max_pixels=args.max_pixels,
            progress=progress,
            on_plan=on_plan,
        )
    pose = "with keypoints" if args.keypoints else "pose-free"
    line = f"tryon ({args.category}, {args.model_type}, {pose}): {summary.line()}; outputs in {out}"
    report_run(line, out, None, summary.failed)
    return 1 if summary.failed else 0
