"""What this machine can run: the `--device` asked for, the precision on it, native bf16 on the CPU or not.

bf16 under autocast pays off on a CPU only with native bf16 instructions (x86: AVX-512 BF16 or AMX; Arm: the
BF16 extension); elsewhere PyTorch emulates it and it runs several times slower than fp32. fp16 autocast on a CPU
is slower still and poorly supported, so it is refused there.
"""

from __future__ import annotations

import functools
import logging
from typing import FrozenSet, Optional, Tuple

import torch

from humanparse.errors import ConfigError

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})  # x86 /proc/cpuinfo flags; Arm "bf16"
SLOW_BF16_WARNING = "bf16 on this CPU (no AVX-512 BF16/AMX) runs slower than fp32"

_logger = logging.getLogger(__name__)
_warned = False


def cpu_flags(path: str = "/proc/cpuinfo") -> Optional[FrozenSet[str]]:
    """The CPU feature flags of the first core (x86 `flags`, Arm `Features`); None where they cannot be read."""
    try:
        with open(path) as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return None


def resolve_device(name: str | torch.device) -> torch.device:
    """`--device` as a torch device; ConfigError when malformed or when the CUDA device asked for is absent.

    The one check behind every command's --device (train, test, predict, benchmark, serve).
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"--device must be cpu or cuda[:N], not {name!r}") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {name} was asked for, but torch sees no CUDA device; use --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name} was asked for, but torch sees {count} CUDA device(s)")
    elif device.type != "cpu":
        raise ConfigError(f"--device must be cpu or cuda[:N], not {name!r}")
    return device


def check_precision(device: torch.device | str, precision: str) -> None:
    """ConfigError for a precision this device cannot run usefully: fp16 on a CPU (use fp32 or bf16)."""
    if precision == "fp16" and torch.device(device).type == "cpu":
        raise ConfigError("--precision fp16 needs a GPU (--device cuda); on the CPU use fp32 or bf16")


@functools.cache
def cpu_bf16_support() -> Tuple[Optional[bool], str]:
    """(native, description): whether this CPU has native bf16 instructions (None: cannot tell), and a line saying so."""
    capability = torch.backends.cpu.get_cpu_capability()
    flags = cpu_flags()
    if flags is None:
        return None, f"cannot read the CPU flags; cannot tell whether bf16 is native (torch: {capability})"
    native = sorted(flags & NATIVE_BF16_FLAGS)
    if native:
        return True, f"CPU has native bf16 ({', '.join(native)}; torch: {capability})"
    return False, f"{SLOW_BF16_WARNING} (torch: {capability})"


def warn_if_slow_bf16(device: torch.device | str, precision: str) -> bool:
    """Log a one-line warning, once per process, when bf16 runs on a CPU without native bf16.

    Returns whether it warned on this call.
    """
    global _warned
    if _warned or precision != "bf16" or torch.device(device).type != "cpu":
        return False
    if cpu_bf16_support()[0] is not False:
        return False
    _warned = True
    _logger.warning(SLOW_BF16_WARNING)
    return True
