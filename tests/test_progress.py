"""Progress bars print rarely when their output is not a terminal."""

from __future__ import annotations

import io

from humanparse.progress import OFF_TERMINAL_INTERVAL, progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_a_bar_prints_a_few_lines_not_one_per_step():
    stream = io.StringIO()
    bar = progress_bar(total=5000, file=stream, desc="train")
    assert bar.mininterval >= OFF_TERMINAL_INTERVAL
    for step in range(5000):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.4f}")  # as the trainer does every iteration
        if step % 1000 == 0:
            bar.set_description(f"epoch {step // 1000 + 1}")
    bar.close()
    lines = [line for line in stream.getvalue().replace("\r", "\n").splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, lines
    assert "5000/5000" in lines[-1] and "epoch 5" in lines[-1] and "loss=0.0002" in lines[-1]


def test_on_a_terminal_a_bar_redraws_as_usual():
    bar = progress_bar(total=10, file=_Terminal(), desc="train")
    assert bar.mininterval < 1
    bar.close()


def test_off_a_terminal_nested_bars_write_plain_lines_only():
    """A redirected log gets whole lines: no ESC[A cursor moves of nested bars, no carriage returns."""
    stream = io.StringIO()
    outer = progress_bar(total=3, file=stream, desc="train", mininterval=0, maxinterval=0)
    for _ in range(3):
        inner = progress_bar(total=4, file=stream, desc="evaluate", leave=False)
        for _ in range(4):
            inner.update(1)
        inner.close()
        outer.update(1)
    outer.close()
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text, repr(text)
    lines = text.splitlines()
    assert lines and all(line.strip() for line in lines), repr(text)
    assert any(line.startswith("evaluate") for line in lines) and "3/3" in lines[-1]


def test_a_command_with_redirected_stderr_writes_no_escape_codes(tmp_path, capsys):
    from humanparse.cli import main

    argv = ["synth", "--out", str(tmp_path / "data"), "--train", "2", "--val", "1", "--size", "64", "64"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "synth" in err and "\x1b" not in err and "\r" not in err, repr(err)
