"""Parse photos: an indexed PNG label map per image (palette attached, original size), optionally an overlay
and the logits.

INPUT may be image files, folders (their images, not recursive) or glob patterns. Unreadable images are skipped
and listed at the end; the exit code is then 1.
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_precision_option, add_set_option, add_tta_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe name (`humanparse configs`) or a YAML config file")
    parser.add_argument(
        "checkpoint",
        help="weights (humanparse/reference .pth or zoo name); with --backend onnxruntime an .onnx file",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
    add_precision_option(parser)
    parser.add_argument("--batch-size", type=int, default=1, help="images per forward pass (default 1)")
    parser.add_argument(
        "--palette", choices=["lip", "voc"], help="colours of the PNGs (default: from the dataset)"
    )
    parser.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.jpg over the photo")
    parser.add_argument(
        "--save-logits",
        action="store_true",
        help="also write <stem>_logits.npy: float16 K x H x W at the photo size",
    )
    parser.add_argument(
        "--backend", default="torch", choices=["torch", "onnxruntime"], help="torch (default) or onnxruntime"
    )
    add_tta_options(parser)
    add_set_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import sys

    from humanparse.engine.prediction_io import (
        check_unique_stems,
        collect_images,
        default_palette,
        write_outputs,
    )
    from humanparse.engine.predictor import Predictor, onnx_forward, resolve_config
    from humanparse.errors import ConfigError, DataError

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    config = resolve_config(args.config).override(args.overrides)
    paths = collect_images(args.inputs)
    check_unique_stems(paths)
    forward = onnx_forward(args.checkpoint) if args.backend == "onnxruntime" else None
    checkpoint = None if forward is not None else args.checkpoint
    predictor = Predictor(
        config,
        checkpoint,
        forward=forward,
        device=args.device,
        scales=args.scales,
        flip=args.flip,
        precision=args.precision,
    )
    palette = args.palette or default_palette(config)
    skipped = []
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=len(paths), desc="predict", unit="img", dynamic_ncols=True)
    from humanparse.data.io import read_image

    for start in range(0, len(paths), args.batch_size):
        images, names = [], []
        for path in paths[start : start + args.batch_size]:
            try:
                images.append(read_image(path))
                names.append(path)
            except DataError as error:
                skipped.append(str(error))
        if images:
            labels, logits = predictor.predict_batch(images, with_logits=args.save_logits)
            for index, path in enumerate(names):
                write_outputs(
                    args.out,
                    path,
                    labels[index],
                    palette,
                    image=images[index] if args.overlay else None,
                    logits=logits[index] if logits is not None else None,
                )
        if progress is not None:
            progress.update(len(paths[start : start + args.batch_size]))
    if progress is not None:
        progress.close()
    print(f"wrote {len(paths) - len(skipped)} prediction(s) to {args.out}")
    if skipped:
        print(f"skipped {len(skipped)} unreadable image(s):", file=sys.stderr)
        for line in skipped:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
