"""Run `humanparse demo` on several seeds and print each run's validation mIoU and time, and the CPU kind.

The README's demo figures (mIoU range, minutes) are re-measured with this script:

    python benchmarks/demo_seeds.py                      # seeds 0 1 2, this CPU's best kernels
    ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 python benchmarks/demo_seeds.py   # an AVX2-only kernel path

Time is reported two ways: wall-clock, and CPU time (user + sys of the demo process) divided by the cores the
demo used, which is what the wall time would be on that many quiet cores. When other programs load the machine
only the second is meaningful; when the cores are quiet the two agree. Each seed changes both the synthetic
dataset and the training's random state.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List


def cpu_kind() -> str:
    """The CPU model and the kernel path torch runs (AVX512 / AVX2 / ...), e.g. 'Intel Xeon, torch kernels AVX512'."""
    import torch

    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, torch kernels {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads"
    )


def run_demo(seed: int, out: Path, threads: int) -> Dict[str, float]:
    """One `humanparse demo --seed SEED` in a child process: mIoU (%), wall and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "humanparse",
        "demo",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-progress",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"seed {seed}: the demo failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads((out / "test" / "report.json").read_text())
    return {
        "seed": seed,
        "miou": 100 * report["mIoU"],
        "wall_s": wall,
        "cpu_s": cpu,
        "per_core_s": cpu / threads,
    }


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="default 0 1 2")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the demo (default 2)")
    parser.add_argument("--out", help="keep the demos' folders here (default: a temporary folder)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_kind()}")
    print(f"{'seed':>4} {'mIoU %':>7} {'wall':>8} {'CPU/cores':>10}")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.out or scratch)
        for seed in args.seeds:
            row = run_demo(seed, root / f"seed{seed}", args.threads)
            rows.append(row)
            print(
                f"{seed:>4} {row['miou']:>7.2f} {_minutes(row['wall_s']):>8} {_minutes(row['per_core_s']):>10}",
                flush=True,
            )
    mious = [row["miou"] for row in rows]
    slowest = max(row["per_core_s"] for row in rows)
    print(
        f"mIoU {min(mious):.1f}-{max(mious):.1f}% over {len(rows)} seeds; at most {_minutes(slowest)} of CPU "
        f"time per core ({args.threads} threads)"
    )
    return 0


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


if __name__ == "__main__":
    sys.exit(main())
