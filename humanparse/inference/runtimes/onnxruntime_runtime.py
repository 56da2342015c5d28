"""The onnxruntime runtime: an ONNX file of `humanparse export` or `humanparse quantize` (input ``image``,
first output ``seg``) on ONNX Runtime's CPU, or CUDA where this onnxruntime has it."""

from __future__ import annotations

from pathlib import Path
from typing import List, Union

import torch

from humanparse.errors import CheckpointError, ConfigError
from humanparse.extras import require
from humanparse.inference.runtimes.base import (
    Device,
    Forward,
    ModelSpec,
    Network,
    batched_forward,
    existing_file,
    register_runtime,
    require_fp32,
    weights_of,
)


def onnxruntime_providers(device: str) -> List[str]:
    """The execution providers for `device`: CPU, or CUDA where this onnxruntime has it (else ConfigError)."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device != "cuda":
        raise ConfigError(f"--backend onnxruntime runs on cpu or cuda, not {device!r}")
    onnxruntime = require("onnxruntime", "--backend onnxruntime")
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise ConfigError(
            "--backend onnxruntime --device cuda needs CUDAExecutionProvider, which this onnxruntime lacks "
            "(pip install onnxruntime-gpu, or use --device cpu)"
        )
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def onnxruntime_forward(path: Union[str, Path], device: str = "cpu", threads: int = 0) -> Forward:
    """An ONNX file (input ``image``, first output ``seg``) on ONNX Runtime; `threads` 0 lets it choose."""
    path = existing_file(path, "ONNX")
    onnxruntime = require("onnxruntime", "--backend onnxruntime")
    providers = onnxruntime_providers(device)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as error:
        raise CheckpointError(f"{path}: onnxruntime cannot load it: {error}") from error
    model_input = session.get_inputs()[0]
    return batched_forward(
        lambda chunk: session.run(None, {model_input.name: chunk})[0],
        isinstance(model_input.shape[0], int),
        path,
        model_input.shape,
    )


@register_runtime("onnxruntime", order=1)
def load_onnxruntime(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec.weights` (an ONNX file) on ONNX Runtime; the images stay on the CPU (the session moves them)."""
    require_fp32(precision)
    forward = onnxruntime_forward(weights_of(spec, "ONNX"), str(device))
    return Network(forward, torch.device("cpu"), spec.source)
