"""Every example in `humanparse --help`, each command's `--help` and the README is a command line that parses as
written; the cheap ones are run."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Iterator, List

import pytest

from humanparse.cli import COMMANDS, build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
_INLINE = re.compile(r"`((?:python3? -m )?humanparse [^`]+)`")


def _help_texts() -> Iterator[str]:
    parser = build_parser()
    yield parser.format_help()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for sub in subparsers.choices.values():
        yield sub.format_help()


def _readme_code() -> Iterator[str]:
    """The lines of the README's code blocks, continuation lines joined."""
    inside, lines = False, []
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    yield from "\n".join(lines).replace("\\\n", " ").splitlines()


def _commands(line: str) -> Iterator[List[str]]:
    """The humanparse argv of each command on a line (`a && b`, `python3 -m humanparse`, `torchrun -m humanparse`),
    without comments and redirections."""
    for part in re.split(r"&&|\|", line.split("  #")[0]):
        try:
            words = shlex.split(part, comments=True)
        except ValueError:
            continue
        if "humanparse" not in words:
            continue
        argv = words[words.index("humanparse") + 1 :]
        argv = argv[: argv.index(">")] if ">" in argv else argv
        if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
            yield argv


def _examples() -> List[List[str]]:
    code = list(_readme_code())  # in a code block, even a bare `humanparse demo` is an example
    prose = _INLINE.findall(" ".join(README.read_text().split()))
    for text in _help_texts():
        text = text.replace("\\\n", " ")
        code += [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith(("humanparse ", "torchrun ")) and "humanparse" in line
        ]
        prose += _INLINE.findall(" ".join(text.split()))
    found = []
    for line, in_code in [(line, True) for line in code] + [(line, False) for line in prose]:
        for argv in _commands(line):
            # in prose a bare command name, `...` or COMMAND names a command; it is not an example to run
            named = not in_code and (len(argv) == 1 and argv[0] != "configs" or "..." in argv)
            if argv not in found and not named and "COMMAND" not in argv:
                found.append(argv)
    return found


EXAMPLES = _examples()


def test_examples_are_found():
    commands = {argv[0] for argv in EXAMPLES}
    assert {"train", "predict", "synth", "export", "serve", "configs", "benchmark"} <= commands


@pytest.mark.parametrize("argv", EXAMPLES, ids=[shlex.join(a)[:60] for a in EXAMPLES])
def test_every_example_parses_as_written(argv, capsys):
    try:
        build_parser().parse_args(argv)
    except SystemExit as stop:
        assert stop.code == 0, f"`humanparse {shlex.join(argv)}`: {capsys.readouterr().err.strip()}"


def _runs(argv: List[str]) -> bool:
    """configs and synth examples without placeholders (NAME, DIR) are cheap enough to run."""
    placeholder = any(word.isupper() for word in argv)
    return not placeholder and (argv[0] == "configs" or argv[:3] == ["synth", "--layout", "lip"])


def test_the_cheap_examples_run(tmp_path, monkeypatch, capsys):
    """configs and synth run as written; synth's follow-up `train` starts in its default work dir."""
    from humanparse.engine import trainer

    monkeypatch.chdir(tmp_path)
    cheap = [argv for argv in EXAMPLES if _runs(argv)]
    assert any(argv[0] == "synth" for argv in cheap) and any(argv[0] == "configs" for argv in cheap)
    for argv in cheap:
        assert main(argv) == 0, shlex.join(argv)
    started = []
    monkeypatch.setattr(trainer.Trainer, "fit", lambda self: started.append(self.work_dir) or _summary(self))
    follow_up = [a for a in EXAMPLES if a[0] == "train" and any(Path(v).is_dir() for v in a)]
    assert follow_up, "no train example on the synth example's data"
    for argv in follow_up:
        assert main(argv) == 0, shlex.join(argv)
    assert Path(started[0]) == Path("runs/ce2p_tiny_synthetic")


def test_the_default_work_dir_is_never_reused_silently(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "ce2p_tiny_synthetic").mkdir(parents=True)
    (tmp_path / "runs" / "ce2p_tiny_synthetic" / "best.pth").write_bytes(b"an earlier run")
    assert main(["train", "ce2p_tiny_synthetic", "--data-root", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "work dir runs/ce2p_tiny_synthetic is not empty" in err and "--resume" in err
    assert (tmp_path / "runs" / "ce2p_tiny_synthetic" / "best.pth").read_bytes() == b"an earlier run"


def _summary(trainer_) -> dict:
    return {
        "epochs": 0,
        "iterations": 0,
        "history": [],
        "best_mIoU": None,
        "work_dir": str(trainer_.work_dir),
    }
