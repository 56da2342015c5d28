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
