"""The `humanparse` command: every subcommand explains itself, and user errors exit cleanly."""

from __future__ import annotations

import subprocess
import sys

import pytest

from humanparse.cli import COMMANDS, build_parser, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_a_help_page(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    page = capsys.readouterr().out
    assert page.startswith("usage: humanparse " + command)
    assert "being written" not in page
    description = page.split("\n\n")[1].strip()
    assert len(description) > 30, f"`humanparse {command} --help` has no real description"


def test_top_level_help_lists_every_command():
    page = build_parser().format_help()
    for command in COMMANDS:
        assert command in page


def test_the_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "humanparse", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("humanparse ")


def test_an_unknown_config_is_a_clean_error(capsys):
    assert main(["configs", "show", "no_such_config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("humanparse configs: error:") and "no_such_config" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "option, message",
    [
        (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
        (["--workers", "-1"], "--workers must be 0 or more, got -1"),
        (["--threads", "0"], "--threads must be at least 1, got 0"),
        (["--max-pixels", "0"], "--max-pixels must be positive, got 0"),
    ],
)
@pytest.mark.parametrize("command", [["predict", "ce2p_tiny_synthetic", "weights.pth"], ["tryon"]])
def test_the_commands_that_stream_photos_check_their_pipeline_options_alike(
    command, option, message, tmp_path, capsys
):
    # checked first, before any model or photo is read (options.check_pipeline_options)
    argv = [*command, str(tmp_path / "photos"), "--out", str(tmp_path / "out"), *option]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_the_executable_returns_mains_code_and_skips_the_last_collections(monkeypatch):
    import gc

    import humanparse.cli as cli

    monkeypatch.setattr(cli, "main", lambda argv=None: 3)
    try:
        assert cli.console_main() == 3
        assert gc.get_freeze_count() > 0  # the interpreter's shutdown collections will skip these objects
    finally:
        gc.unfreeze()


def test_python_m_humanparse_exits_with_the_commands_code():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "humanparse", "configs"], capture_output=True, text=True)
    assert result.returncode == 0 and "ce2p_tiny_synthetic" in result.stdout
    result = subprocess.run([sys.executable, "-m", "humanparse", "predict", "no_such_recipe", "w.pth", "x.jpg",
                             "--out", "o"], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 2 and "no_such_recipe" in result.stderr
