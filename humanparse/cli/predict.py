"""Parse photos: an indexed PNG label map per photo (palette attached, original size), optionally masks of class
groups, an overlay and the logits. Streaming and resumable: a rerun skips photos already done.

INPUT may be image files, folders (walked recursively; outputs mirror the paths below them) or glob patterns;
`--list FILE` adds one path a line. Photos are decoded in worker processes, run in batches and written by a
background thread; every file is written atomically. Unreadable photos are listed in OUT/failed.jsonl and the
exit code is then 1. Split a run over processes or machines with `torchrun --nproc-per-node N -m humanparse
predict ...`, or over separate invocations with `--shard K/N`.
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
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument(
        "--list",
        dest="list_file",
        metavar="FILE",
        help="also the photos in FILE: one path a line (relative to the current folder), # comments",
    )
    parser.add_argument("--out", required=True, help="output folder (never one that would replace an input)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
    add_precision_option(parser)
    parser.add_argument("--batch-size", type=int, default=1, help="photos per forward pass (default 1)")
    parser.add_argument(
        "--workers", type=int, help="decoding processes (default min(4, cores - 1); 0: in the main process)"
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads per process (default: cores / processes)"
    )
    parser.add_argument(
        "--palette", choices=["lip", "voc", "fashn"], help="colours of the PNGs (default: from the dataset)"
    )
    parser.add_argument(
        "--mask",
        action="append",
        default=[],
        metavar="NAME=CLASS[,CLASS...]",
        help="also write <stem>_NAME.png, 0/255, of these classes (repeatable; groups: foreground, arms, legs, "
        "shoes), e.g. --mask upper=upper_clothes,coat --mask person=foreground",
    )
    parser.add_argument(
        "--label-map",
        metavar="FILE.yaml",
        help="save the label PNGs with these ids (`class: id`, every class)",
    )
    parser.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.jpg over the photo")
    parser.add_argument("--legend", action="store_true", help="add the classes present beside the overlay")
    parser.add_argument(
        "--save-logits", action="store_true", help="also write <stem>_logits.npy at the photo size"
    )
    parser.add_argument(
        "--logits-layout",
        default="khw",
        choices=["khw", "hwk"],
        help="K x H x W (default) or H x W x K (with --logits-dtype float32: what SCHP's --logits writes)",
    )
    parser.add_argument(
        "--logits-dtype", default="float16", choices=["float16", "float32"], help="default float16"
    )
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose outputs already exist")
    parser.add_argument(
        "--shard", metavar="K/N", help="run only part K of N (0-based), e.g. one task of a SLURM job array"
    )
    add_backend_option(parser)
    add_tta_options(parser)
    add_set_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from humanparse.data.labels import dataset_classes, default_palette
    from humanparse.errors import ConfigError
    from humanparse.inference.backends import create_predictor
    from humanparse.inference.masks import parse_mask_specs
    from humanparse.inference.pipeline import (
        OutputSpec,
        default_workers,
        failed_file,
        gather_summaries,
        place,
        run_pipeline,
        write_failures,
    )
    from humanparse.inference.prediction_io import (
        check_mask_names,
        check_out_folder,
        load_label_map,
        plan_inputs,
    )

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.workers is not None and args.workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {args.workers}")
    if args.legend and not args.overlay:
        raise ConfigError("--legend draws on the overlay; add --overlay")
    resolve_model_arguments(args, positional="inputs")
    placement = place(args.device, args.shard, args.threads)
    config = load_model_config(args)
    class_names = tuple(dataset_classes(config.data).class_names)
    out = Path(args.out)
    spec = OutputSpec(
        palette=args.palette or default_palette(config.data.dataset),
        class_names=class_names,
        masks=tuple(parse_mask_specs(args.mask, class_names)),
        label_lookup=load_label_map(args.label_map, class_names) if args.label_map else None,
        overlay=args.overlay,
        legend=args.legend,
        logits=args.save_logits,
        logits_layout=args.logits_layout,
        logits_dtype=args.logits_dtype,
    )
    items = plan_inputs(args.inputs, args.list_file, out)
    check_out_folder(out, items, spec.suffixes)
    check_mask_names(items, spec.suffixes)

    if placement.device.type == "cpu":
        torch.set_num_threads(placement.threads)
    predictor = create_predictor(
        config,
        args.checkpoint,
        backend=args.backend,
        device=placement.device,
        scales=args.scales,
        flip=args.flip,
        precision=args.precision,
    )
    workers = args.workers if args.workers is not None else default_workers(placement.threads)
    bars = []

    def on_plan(todo: int, skipped: int) -> None:  # the bar counts the photos still to do
        if not args.no_progress and placement.is_main:
            from humanparse.progress import progress_bar

            part = f" (part {placement.part + 1} of {placement.parts})" if placement.parts > 1 else ""
            bars.append(progress_bar(total=todo, desc=f"predict{part}", unit="img"))

    try:
        summary = run_pipeline(
            predictor,
            items,
            out,
            spec,
            batch_size=args.batch_size,
            workers=workers,
            part=placement.part,
            parts=placement.parts,
            overwrite=args.overwrite,
            progress=lambda count: bars[0].update(count) if bars else None,
            on_plan=on_plan,
        )
    finally:
        for bar in bars:
            bar.close()
    merged = gather_summaries(summary, placement)
    if placement.is_main:
        write_failures(failed_file(out, args.shard), merged.failed)
        scope = f" (shard {args.shard})" if args.shard else ""
        print(f"predict{scope}: {merged.line()}; outputs in {out}")
        if merged.failed:
            import sys

            print(f"{len(merged.failed)} photo(s) could not be read, listed in {failed_file(out, args.shard)}:",
                  file=sys.stderr)  # fmt: skip
            for entry in merged.failed[:10]:
                print(f"  {entry['error']}", file=sys.stderr)
    return 1 if merged.failed else 0
