"""Where a figure was measured: the one line every benchmark prints beside its figures.

CPU model, the flags that decide which kernels win (AVX2, AVX-512, AVX-512 BF16, VNNI, AMX), cores and torch
threads, the ISA torch and oneDNN were allowed ($ATEN_CPU_CAPABILITY, $DNNL_MAX_CPU_ISA), library versions, and
the load average (other processes on the cores make every figure slower and noisier).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Dict, List, Optional

import torch

from humanparse.hardware import cpu_flags

# flag in /proc/cpuinfo -> the name printed
FLAGS = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_bf16": "AVX512_BF16",
    "avx512_vnni": "AVX512_VNNI",
    "avx_vnni": "AVX_VNNI",
    "amx_bf16": "AMX_BF16",
    "amx_int8": "AMX_INT8",
}
LIBRARIES = ("torch", "numpy", "opencv-python-headless", "opencv-python", "onnxruntime", "openvino", "nncf")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_kind(flags: Optional[frozenset] = None) -> str:
    """The CPU class the README groups figures by: "AVX-512 + AMX", "AVX-512 BF16", "AVX-512", "AVX2", "other"."""
    flags = cpu_flags() if flags is None else flags
    flags = flags or frozenset()
    if "amx_bf16" in flags:
        return "AVX-512 + AMX"
    if "avx512_bf16" in flags:
        return "AVX-512 BF16"
    if "avx512f" in flags:
        return "AVX-512"
    return "AVX2" if "avx2" in flags else "other"


def versions() -> Dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine_lines() -> List[str]:
    """Two lines: the CPU and its flags, then threads, ISA overrides, versions and load."""
    flags = cpu_flags() or frozenset()
    present = [name for flag, name in FLAGS.items() if flag in flags]
    overrides = [
        f"{name}={os.environ[name]}"
        for name in ("ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA")
        if os.environ.get(name)
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        f"CPU: {cpu_model()} ({cpu_kind(flags)}; flags: {', '.join(present) or 'none of AVX2/AVX-512/AMX'}), "
        f"{os.cpu_count()} cores",
        f"{torch.get_num_threads()} torch threads, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
        + (f" ({', '.join(overrides)})" if overrides else "")
        + "; "
        + ", ".join(f"{name} {version}" for name, version in versions().items())
        + f"; python {platform.python_version()}; load average {load:.1f} on {os.cpu_count()} cores"
        + (" (other processes share the cores: figures are slower and noisier)" if load > 1.5 else ""),
    ]


def print_machine() -> None:
    print("\n".join(machine_lines()), flush=True)
