"""Score a checkpoint on a labelled split with the recipe's test protocol (mIoU, accuracies, per-class IoU).

Prints a table, and with --out writes a JSON report plus a per-class IoU chart and a confusion-matrix image
next to it (<out>_class_iou.png, <out>_confusion.png).
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import (
    add_backend_option,
    add_model_arguments,
    add_precision_option,
    add_set_option,
    add_tta_options,
    load_model_config,
    resolve_model_arguments,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--data-root", required=True, help="the dataset's root folder")
    parser.add_argument("--split", default="val", help="the split to score (default: val)")
    add_tta_options(parser)
    parser.add_argument("--out", metavar="REPORT.json", help="write the JSON report and its two PNGs here")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
    add_precision_option(parser)
    add_backend_option(parser)
    add_set_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from humanparse.data.datasets import build_dataset
    from humanparse.engine.evaluator import evaluate
    from humanparse.engine.report import format_table, write_report
    from humanparse.inference.backends import create_network
    from humanparse.outputs import check_writable

    resolve_model_arguments(args)
    if args.out:
        check_writable(args.out, "report.json")  # before the evaluation, not after it
    config = load_model_config(args)
    config.data.root = args.data_root  # set directly: a path is not YAML to parse (`~` would read as null)
    network = create_network(
        config, args.checkpoint, backend=args.backend, device=args.device, precision=args.precision
    )
    dataset = build_dataset(config, args.split, train=False)
    results = evaluate(
        None,
        config,
        dataset,
        scales=args.scales,
        flip=args.flip,
        progress=not args.no_progress,
        network=network,
    )
    results.update(
        config=config.name, checkpoint=str(args.checkpoint), split=args.split, backend=args.backend
    )
    print(format_table(results))
    if args.out:
        for path in write_report(results, args.out):
            print(f"wrote {path}")
    return 0
