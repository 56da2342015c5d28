"""Check a dataset before training: every missing, unreadable, truncated or malformed file, all reported at once.

Reads every image and label of the chosen splits the way training does and lists each problem with the file
named (missing files, truncated images, size mismatches, labels with several channels, 16 bits or values
outside the config's classes). Exits 1 when anything is wrong, 0 otherwise; a summary line is printed either way.
Example: `humanparse check-data ce2p_resnet101os8_lip --data-root data/LIP`.
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import add_set_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a recipe name (`humanparse configs`) or a YAML config file")
    parser.add_argument("--data-root", required=True, help="the dataset's root folder")
    parser.add_argument(
        "--split", nargs="+", help="splits to check (default: the config's train and val splits)"
    )
    add_set_option(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import sys

    from humanparse.configs import load_config
    from humanparse.data.check import check_dataset

    config = load_config(args.config).override(args.overrides)
    config.data.root = args.data_root
    splits = args.split or list(dict.fromkeys([config.data.train_split, config.data.val_split]))
    reports = check_dataset(config, splits, progress_bar=not args.no_progress)
    problems = 0
    for report in reports:
        for problem in report.problems:
            print(f"[{report.split}] {problem}", file=sys.stderr)
        problems += len(report.problems)
    counts = ", ".join(f"{r.split}: {r.samples} samples, {len(r.problems)} problems" for r in reports)
    if problems:
        print(f"check-data: {problems} problem(s) in {args.data_root} ({counts})")
        return 1
    print(f"check-data: OK, no problems in {args.data_root} ({counts})")
    return 0
