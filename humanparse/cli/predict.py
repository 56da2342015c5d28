"""Parse photos: an indexed PNG label map per photo (palette attached, original size), optionally masks of class
groups, an overlay and the logits. Streaming and resumable: a rerun skips photos already done.

INPUT may be image files, folders (walked recursively; outputs mirror the paths below them) or glob patterns;
`--list FILE` adds one path a line. Photos are decoded in worker processes, run in batches and written by a
background thread; every file is written atomically. Unreadable photos are listed in OUT/failed.jsonl and the
exit code is then 1. Split a run over processes or machines with `torchrun --nproc-per-node N -m humanparse
predict ...`, or over separate invocations with `--shard K/N`.

INPUT, --list and --out may also be URIs: s3://, gs://, az:// (extra [cloud]), http(s):// (inputs only) and
file://; credentials come from the environment or profile, as the storage's own tools read them.
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import (
    add_backend_option,
    add_device_option,
    add_kernels_option,
    add_model_arguments,
    add_pipeline_options,
    add_precision_option,
    add_set_option,
    add_tta_options,
    check_pipeline_options,
    is_model_file,
    load_model_config,
    note_demo_model,
    passive_openmp_threads,
    resolve_model_arguments,
)
from humanparse.cli.photo_runs import pipeline_progress, report_run

# positionals given after options (`predict CFG CK --out o a.jpg b.jpg`) join these inputs (humanparse.cli.main)
INTERMIXED = "inputs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="image files, folders or glob patterns (local or s3://, gs://, az://, http(s)://)",
    )
    parser.add_argument(
        "--list",
        dest="list_file",
        metavar="FILE",
        help="also the photos in FILE (local or a URI): one path or URI a line (relative: to the current "
        "folder, or below a list on object storage), # comments",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output folder, local or s3://, gs://, az:// (never one that would replace an input)",
    )
    add_device_option(parser)
    add_precision_option(parser)
    add_kernels_option(parser)
    add_pipeline_options(parser, threads_help="torch CPU threads per process (default: cores / processes)")
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
    parser.add_argument(
        "--to",
        metavar="LABEL_SET",
        help="save the label PNGs in another label set: lip, atr, cihp, pascal_person_part, fashn, ootd (ATR + neck); "
        "prints which classes have no target or merge (docs/label_sets.md)",
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
    add_ray_options(parser)


def add_ray_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Ray (extra [ray])")
    group.add_argument(
        "--engine",
        default="local",
        choices=["local", "ray"],
        help="local: this process (or torchrun's); ray: Ray Data tasks and actors (default local)",
    )
    group.add_argument(
        "--ray-address", metavar="ADDRESS", help="a running Ray cluster (HOST:PORT, ray://HOST:PORT, auto); "
        "default: start a local one"
    )  # fmt: skip
    group.add_argument("--actors", type=int, default=1, help="model actors (default 1)")
    group.add_argument(
        "--gpus-per-actor",
        type=float,
        default=0.0,
        metavar="F",
        help="GPUs per actor, e.g. 1 or 0.5 (default 0)",
    )


def run(args: argparse.Namespace) -> int:
    passive_openmp_threads()  # before torch loads (see there)
    import torch

    from humanparse.data.labels import dataset_classes, default_palette
    from humanparse.errors import ConfigError
    from humanparse.inference.backends import create_predictor
    from humanparse.inference.masks import parse_mask_specs
    from humanparse.inference.pipeline import (
        OutputSpec,
        default_workers,
        gather_summaries,
        place,
        run_pipeline,
    )
    from humanparse.inference.prediction_io import (
        check_mask_names,
        check_out_folder,
        load_label_map,
        plan_inputs,
    )
    from humanparse.inference.storage import ObjectFolder, output_folder
    from humanparse.output_paths import check_output_folder

    check_pipeline_options(args)
    if args.checkpoint is None and args.inputs and not is_model_file(args.config):
        args.checkpoint = args.inputs.pop(0)  # CONFIG --out DIR CHECKPOINT INPUT...: options came between
    if args.legend and not args.overlay:
        raise ConfigError("--legend draws on the overlay; add --overlay")
    resolve_model_arguments(args, positional="inputs")
    placement = place(args.device, args.shard, args.threads)
    config = load_model_config(args)
    class_names = tuple(dataset_classes(config.data).class_names)
    out = output_folder(args.out)
    label_lookup, palette = None, default_palette(config.data.dataset)
    if args.label_map:
        label_lookup = load_label_map(args.label_map, class_names)
    if args.to:
        from humanparse.inference.labelsets import converted_labels

        if args.label_map:
            raise ConfigError("--to and --label-map both say which ids to save; give one")
        conversion = converted_labels(config.data.dataset, args.to)
        if placement.is_main:
            print(conversion.summary())
        label_lookup, palette = conversion.lookup, conversion.palette
    spec = OutputSpec(
        palette=args.palette or palette,
        class_names=class_names,
        masks=tuple(parse_mask_specs(args.mask, class_names)),
        label_lookup=label_lookup,
        overlay=args.overlay,
        legend=args.legend,
        logits=args.save_logits,
        logits_layout=args.logits_layout,
        logits_dtype=args.logits_dtype,
    )
    if not isinstance(out, ObjectFolder):  # an object store holds none of the local inputs
        check_output_folder(
            out, option="--out", inputs=[args.config, args.checkpoint, args.list_file, args.label_map]
        )
    items = plan_inputs(args.inputs, args.list_file, out)
    check_out_folder(out, items, spec.suffixes)
    check_mask_names(items, spec.suffixes)

    if args.engine == "ray":
        note_demo_model(config.name)
        return _run_ray(args, items, out, spec, config)
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
        kernels=args.kernels,
    )
    workers = args.workers if args.workers is not None else default_workers(placement.threads)
    part = f" (part {placement.part + 1} of {placement.parts})" if placement.parts > 1 else ""
    showing = not args.no_progress and placement.is_main
    with pipeline_progress(f"predict{part}", showing) as (on_plan, progress):
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
            progress=progress,
            on_plan=on_plan,
            max_pixels=args.max_pixels,
        )
    merged = gather_summaries(summary, placement)
    if placement.is_main:
        _report(merged, out, args.shard)
        note_demo_model(config.name)  # beside the summary: an error before it stays one line
    return 1 if merged.failed else 0


def _report(summary, out, shard) -> None:
    """failed.jsonl, the summary line and the first failures."""
    scope = f" (shard {shard})" if shard else ""
    report_run(f"predict{scope}: {summary.line()}; outputs in {out}", out, shard, summary.failed)


def _run_ray(args: argparse.Namespace, items, out, spec, config) -> int:
    """`--engine ray`: the same photos and outputs through Ray Data (humanparse.integrations.ray.run_job)."""
    from humanparse.errors import ConfigError
    from humanparse.inference.pipeline import available_cores, parse_shard

    if args.actors < 1:
        raise ConfigError(f"--actors must be at least 1, got {args.actors}")
    if args.gpus_per_actor < 0:
        raise ConfigError(f"--gpus-per-actor must be 0 or more, got {args.gpus_per_actor}")
    if args.device == "cuda" and not args.gpus_per_actor:
        raise ConfigError("--engine ray --device cuda needs --gpus-per-actor (e.g. 1)")
    part, parts = parse_shard(args.shard)
    from humanparse.inference.pipeline import my_blocks

    mine = sorted(index for block in my_blocks(len(items), args.batch_size, part, parts) for index in block)
    items = [items[index] for index in mine]
    from humanparse.integrations.ray import connect, default_threads, run_job

    if args.ray_address:
        connect(args.ray_address)
    else:  # a local Ray: the actors' CPUs, one for the reading, decoding and writing tasks beside them and one
        # for the checkpoint filter of a resumed job
        threads = args.threads or (1 if args.gpus_per_actor else max(1, available_cores() // args.actors))
        connect(None, num_cpus=args.actors * threads + 2)
    threads = args.threads or default_threads(args.actors, args.gpus_per_actor)
    settings = {"config": config, "checkpoint": args.checkpoint, "backend": args.backend, "device": args.device,
                "scales": args.scales, "flip": args.flip, "precision": args.precision}  # fmt: skip
    summary = run_job(
        items, out, spec, settings, actors=args.actors, threads=threads, gpus_per_actor=args.gpus_per_actor,
        batch_size=args.batch_size, overwrite=args.overwrite,
    )  # fmt: skip
    _report(summary, out, args.shard)
    return 1 if summary.failed else 0
