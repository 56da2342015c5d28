"""Write a synthetic dataset of people in a real dataset's layout (LIP, CIHP, ATR, VOC, PPP or a plain folder).

The files follow the real layout exactly, so `humanparse train/test/check-data` read them with the matching
config, e.g. `humanparse synth --layout lip --out data/synth --train 60 --val 20 --size 128 128 --preview`
and then `humanparse train ce2p_tiny_synthetic --data-root data/synth`. Same seed, same files.
"""

from __future__ import annotations

import argparse

from humanparse.errors import DataError

MAX_SIZE = 4096  # a synthetic photo larger than this is a typo, and would need gigabytes per image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layout",
        choices=("lip", "cihp", "atr", "voc", "ppp", "folder"),
        default="lip",
        help="dataset layout and label set to write (default lip; folder: images/, labels/, LIP classes)",
    )
    parser.add_argument("--out", required=True, help="output folder (the data root to pass as --data-root)")
    parser.add_argument("--train", type=int, default=300, help="number of training images (default 300)")
    parser.add_argument("--val", type=int, default=60, help="number of validation images (default 60)")
    parser.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=(256, 256),
        metavar=("H", "W"),
        help=f"image size, 32 to {MAX_SIZE} (default 256 256)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--preview", action="store_true", help="also write OUT/preview.png (images beside labels)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a folder that is not empty (replacing same names)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:

    from humanparse.data.labels import canonical_layout
    from humanparse.data.synth import generate_dataset, layout_num_classes
    from humanparse.progress import progress_bar

    if args.train < 0 or args.val < 0:
        raise DataError("--train and --val must be >= 0")
    from humanparse.output_paths import check_output_folder

    if min(args.size) < 32:
        raise DataError(f"--size {args.size[0]} {args.size[1]} is too small; use at least 32 32")
    if max(args.size) > MAX_SIZE:
        raise DataError(
            f"--size {args.size[0]} {args.size[1]} is too large; use at most {MAX_SIZE} {MAX_SIZE}"
        )
    out = check_output_folder(args.out, option="--out", empty=not args.overwrite)
    total = args.train + args.val
    with progress_bar(total=total, desc=f"synth {args.layout}", unit="img", disable=args.no_progress) as bar:
        try:
            root = generate_dataset(
                args.layout,
                out,
                args.train,
                args.val,
                size=tuple(args.size),
                seed=args.seed,
                preview=args.preview,
                progress=bar.update,
            )
        except OSError as error:
            raise DataError(f"cannot write the synthetic dataset under {out}: {error}") from error
    dataset = canonical_layout(args.layout)
    print(f"wrote {args.train} train + {args.val} val images ({args.layout} layout) to {root}")
    if args.layout == "folder":
        print(
            f"read it with: --data-root {root} --set data.dataset=folder "
            f"data.num_classes={layout_num_classes(args.layout)}"
        )
    elif args.layout == "voc":
        print(f"read it with: --data-root {root} --set data.dataset=voc (splits trainaug and val)")
    else:
        print(f"read it with: --data-root {root} --set data.dataset={dataset}")
    if args.preview:
        print(f"preview: {out / 'preview.png'}")
    return 0
