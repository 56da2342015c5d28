"""Peak memory of one forward, measured in a fresh Python process per implementation.

CPU: the growth of the peak resident set during the forward (Linux: VmHWM, reset through /proc/self/clear_refs
after the build; elsewhere getrusage's maxrss). CUDA: the growth of torch.cuda.max_memory_allocated.
Run as `python -m benchlib.memory REQUEST_JSON` by `measure_peak_memory`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from typing import Optional

import torch
from torch import nn

import humanparse
from benchlib.references import Implementation, ReferenceUnavailable, build_ours, build_reference


def measure_peak_memory(
    implementation: str,
    config_name: str = "",
    size: int = 473,
    precision: str = "fp32",
    device: str = "cpu",
    csenet_repo: Optional[str] = None,
    threads: Optional[int] = None,
    timeout: float = 600.0,
) -> float:
    """Peak memory (MiB) of one forward, over the built-model baseline, measured in a fresh Python process.

    `implementation` is "ours", "reference" or "conv" (a 64->64 3x3 conv, for tests). CPU: the growth of the
    process's maximum resident set size during the forward; CUDA: torch.cuda.max_memory_allocated growth.
    Raises ReferenceUnavailable when the subprocess cannot build the reference.
    """
    request = dict(
        implementation=implementation,
        config=config_name,
        size=size,
        precision=precision,
        device=device,
        csenet_repo=csenet_repo,
        threads=threads,
    )
    # the child imports benchlib and the same humanparse as this process
    benchmarks_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(humanparse.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([benchmarks_dir, package_parent, env.get("PYTHONPATH", "")])
    completed = subprocess.run(
        [sys.executable, "-m", "benchlib.memory", json.dumps(request)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"memory probe failed (exit {completed.returncode}): {completed.stderr.strip()[-2000:]}"
        )
    result = json.loads(lines[-1])
    if "unavailable" in result:
        raise ReferenceUnavailable(result["unavailable"])
    return float(result["peak_mib"])


def _read_status_mib(field_name: str) -> Optional[float]:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _reset_peak_rss() -> float:
    """Reset the kernel's peak-RSS mark where Linux allows it, and return the baseline (MiB) to subtract."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # "5" resets VmHWM to the current RSS
        return _read_status_mib("VmRSS") or 0.0
    except OSError:
        return _peak_rss_mib()


def _peak_rss_mib() -> float:
    """The process's peak resident set (MiB): VmHWM on Linux, else getrusage's maxrss."""
    peak = _read_status_mib("VmHWM")
    if peak is not None:
        return peak
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _memory_probe(request_json: str) -> None:
    """Subprocess entry of measure_peak_memory: build, measure one forward, print a JSON line."""
    request = json.loads(request_json)
    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    device = torch.device(request["device"])
    size = int(request["size"])
    try:
        if request["implementation"] == "conv":
            conv = nn.Conv2d(64, 64, 3, padding=1).to(device).eval()
            runner = Implementation("conv", conv, lambda images: conv(images[:, :1].expand(-1, 64, -1, -1)))
        elif request["implementation"] == "ours":
            runner = build_ours(request["config"], device, request["precision"])
        else:
            runner = build_reference(request["config"], device, request.get("csenet_repo"))
    except ReferenceUnavailable as error:
        print(json.dumps({"unavailable": str(error)}))
        return
    images = torch.randn(1, 3, size, size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        with torch.inference_mode():
            runner.forward(images)
        torch.cuda.synchronize(device)
        peak = (torch.cuda.max_memory_allocated(device) - baseline) / 2**20
    else:
        baseline = _reset_peak_rss()
        with torch.inference_mode():
            runner.forward(images)
        peak = _peak_rss_mib() - baseline
    print(json.dumps({"peak_mib": peak}))


if __name__ == "__main__":
    _memory_probe(sys.argv[1])
