"""Download published weights by zoo name into the cache, checking size and SHA-256 (`humanparse models` lists them).

Interrupted downloads resume. $HUMANPARSE_MODEL_MIRROR (an http(s):// or file:// URL) is tried first, as
<mirror>/<file name>; `--to DIR` fills such a mirror folder instead of the cache.

Examples:
  humanparse download schp_resnet101_lip
  humanparse download --all --to /srv/humanparse-models        # then: HUMANPARSE_MODEL_MIRROR=file:///srv/humanparse-models
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="zoo names (`humanparse models`)")
    parser.add_argument("--all", action="store_true", help="every entry that can be downloaded automatically")
    parser.add_argument("--to", metavar="DIR", help="fill this folder (a mirror) instead of the cache")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from humanparse.errors import CheckpointError, ConfigError
    from humanparse.zoo import ZOO, download_entry

    if not args.names and not args.all:
        raise ConfigError("name the weights to download (`humanparse models` lists them), or give --all")
    unknown = [name for name in args.names if name not in ZOO]
    if unknown:
        raise ConfigError(f"not a model-zoo name: {', '.join(unknown)} (`humanparse models` lists them)")
    names = list(dict.fromkeys(args.names))
    manual = []
    if args.all:
        for name, entry in ZOO.items():
            if name in names:
                continue
            (names if entry.automatic else manual).append(name)
    folder = Path(args.to).expanduser() if args.to else None
    failed = []
    for name in names:
        try:
            path = download_entry(ZOO[name], folder, progress=not args.quiet)
        except CheckpointError as error:
            print(f"humanparse download: {name}: {error}", file=sys.stderr)
            failed.append(name)
            continue
        print(f"{name}: {path}")
    if manual:
        print(
            f"by hand only (Baidu / Drive folders): {', '.join(manual)}; `humanparse download NAME` prints the steps",
            file=sys.stderr,
        )
    if failed:
        print(f"humanparse download: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
