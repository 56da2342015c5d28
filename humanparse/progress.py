"""Progress bars that stay readable off a terminal.

On a terminal a bar redraws in place several times a second. Written to a log file or a pipe (CI, `nohup`,
`| tee`), every redraw would be a new line, so there the bar updates at most every `OFF_TERMINAL_INTERVAL`
seconds, the last state is always printed, and each state is one plain line: no carriage returns and no cursor
movements (the `ESC[A` tqdm uses to stack nested bars), which a log file would keep as garbage.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Optional, TextIO

from tqdm import tqdm

OFF_TERMINAL_INTERVAL = 30.0  # seconds between lines when the output is not a terminal


def is_terminal(stream: Optional[TextIO] = None) -> bool:
    """Whether `stream` (default stderr, where bars go) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


_CONTROL = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # ANSI cursor movements and erasures


class PlainLines:
    """A text stream wrapper that turns a bar's redraws into plain lines: control sequences dropped, `\r`
    redraws and tqdm's blank moves become one line per state, empty ones left out."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        for line in re.split(r"[\r\n]+", _CONTROL.sub("", text)):
            if line.strip():
                self.stream.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        getattr(self.stream, "flush", lambda: None)()

    def isatty(self) -> bool:
        return False


class _QuietBar(tqdm):
    """A bar off a terminal: its postfix and description wait for the next timed line instead of forcing one."""

    def set_postfix(self, ordered_dict=None, refresh=True, **kwargs):
        super().set_postfix(ordered_dict, refresh=False, **kwargs)

    def set_postfix_str(self, s="", refresh=True):
        super().set_postfix_str(s, refresh=False)

    def set_description(self, desc=None, refresh=True):
        super().set_description(desc, refresh=False)

    def set_description_str(self, desc=None, refresh=True):
        super().set_description_str(desc, refresh=False)


def progress_bar(*, disable: bool = False, file: Optional[TextIO] = None, **options: Any) -> tqdm:
    """A tqdm bar (same keyword options) that prints a line at most every 30 s when not on a terminal."""
    options.setdefault("dynamic_ncols", True)
    if not is_terminal(file):
        options["mininterval"] = max(options.get("mininterval", 0.1), OFF_TERMINAL_INTERVAL)
        options["maxinterval"] = max(options.get("maxinterval", 10.0), OFF_TERMINAL_INTERVAL)
        options["dynamic_ncols"] = False
        options.setdefault("ncols", 100)
        # resolved now, not at write time, so that a later redirect of sys.stderr is not bypassed
        return _QuietBar(
            disable=disable, file=PlainLines(file if file is not None else sys.stderr), **options
        )
    return tqdm(disable=disable, file=file, **options)
