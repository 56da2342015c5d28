"""What the commands that stream photos through the predict pipeline (predict, tryon) share once their options
are checked (`options.add_pipeline_options`): the progress bar and the report of a run."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple


@contextmanager
def pipeline_progress(
    desc: str, enabled: bool
) -> Iterator[Tuple[Callable[[int, int], None], Callable[[int], None]]]:
    """`run_pipeline`'s `on_plan` and `progress`: a bar of the photos still to do, made once the plan is known
    (none when not `enabled`), closed on leaving."""
    bars: List = []

    def on_plan(todo: int, skipped: int) -> None:
        if enabled:
            from humanparse.progress import progress_bar

            bars.append(progress_bar(total=todo, desc=desc, unit="img"))

    def progress(count: int) -> None:
        if bars:
            bars[0].update(count)

    try:
        yield on_plan, progress
    finally:
        for bar in bars:
            bar.close()


def report_run(line: str, out, shard: Optional[str], failed: Sequence[Dict[str, str]]) -> None:
    """failed.jsonl in `out` (that of `shard`; removed when nothing failed), the summary `line` on stdout, then
    the number of photos that could not be read and the first ten on stderr."""
    from humanparse.inference.pipeline import failed_file, save_failures

    save_failures(out, shard, failed)
    print(line)
    if failed:
        print(
            f"{len(failed)} photo(s) could not be read, listed in {failed_file(out, shard)}:", file=sys.stderr
        )
        for entry in failed[:10]:
            print(f"  {entry['error']}", file=sys.stderr)
