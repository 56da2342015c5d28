"""Runtimes a network runs on, one module each, and `build_network`, the one factory of the forward function.

* ``torch`` (`torch_runtime`): the PyTorch network of a checkpoint or a given module, prepared for inference;
* ``onnxruntime`` (`onnxruntime_runtime`): an ONNX file from `humanparse export` / `quantize` (CPU, or CUDA);
* ``openvino`` (`openvino_runtime`): an OpenVINO IR (.xml) or ONNX file (CPU).

A new runtime is one module here whose loader is decorated with `@register_runtime("name")` (see `base`);
the registry imports every module of this package the first time it is read.
"""

from __future__ import annotations

from typing import Tuple

from humanparse.errors import ConfigError
from humanparse.inference.runtimes.base import RUNTIMES, Device, Forward, ModelSpec, Network, Runtime
from humanparse.inference.runtimes.onnxruntime_runtime import onnxruntime_forward, onnxruntime_providers
from humanparse.inference.runtimes.openvino_runtime import openvino_forward

__all__ = [
    "Device",
    "Forward",
    "ModelSpec",
    "Network",
    "Runtime",
    "backends",
    "build_network",
    "onnxruntime_forward",
    "onnxruntime_providers",
    "openvino_forward",
]


def backends() -> Tuple[str, ...]:
    """The registered runtimes' names, torch first (the `--backend` choices)."""
    return tuple(sorted(RUNTIMES.names(), key=lambda name: (RUNTIMES.get(name).order, name)))


def build_network(
    spec: ModelSpec,
    backend: str = "torch",
    device: Device = "cpu",
    precision: str = "fp32",
    *,
    optimize: bool = True,
) -> Network:
    """The forward function of `spec` on `backend`, `device` (checked here, once, by the runtime) and `precision`.

    `optimize` (torch) folds BatchNorm into the convolutions and goes channels_last; the outputs are unchanged.
    """
    names = backends()
    if backend not in names:
        raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(names)}")
    return RUNTIMES.get(backend).load(spec, device, precision, optimize)
