"""The `humanparse` command: one module per subcommand, each with `add_arguments` and `run`."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

from humanparse.errors import HumanParseError

# subcommand -> module under humanparse.cli; each module keeps heavy imports inside run().
COMMANDS = {
    "demo": "demo",
    "synth": "synth",
    "check-data": "check_data",
    "configs": "configs",
    "train": "train",
    "test": "evaluate",
    "predict": "predict",
    "convert": "convert",
    "export": "export",
    "quantize": "quantize",
    "benchmark": "benchmark",
    "serve": "serve",
    "tryon": "tryon",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="humanparse",
        description="Human parsing toolbox: CE2P, SCHP, CDGNet and CSENet. "
        "Run `humanparse COMMAND --help` for a command's options.",
    )
    from humanparse import __version__

    parser.add_argument("--version", action="version", version=f"humanparse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command, module_name in COMMANDS.items():
        module = importlib.import_module(f"humanparse.cli.{module_name}")
        summary = (module.__doc__ or "").strip().splitlines()[0]
        command_parser = sub.add_parser(
            command,
            help=summary,
            description=(module.__doc__ or "").strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except HumanParseError as error:
        print(f"humanparse {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"humanparse {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
