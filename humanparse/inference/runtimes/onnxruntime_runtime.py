"""The onnxruntime runtime: an ONNX file of `humanparse export` or `humanparse quantize` (input ``image``,
first output ``seg``) on ONNX Runtime's CPU, or CUDA where this onnxruntime has it."""

from __future__ import annotations

from pathlib import Path
from typing import List, Union

from humanparse.errors import CheckpointError, ConfigError, first_meaningful_line
from humanparse.extras import require
from humanparse.inference.runtimes.base import (
    Device,
    Forward,
    ModelSpec,
    Network,
    batched_forward,
    existing_file,
    model_file_network,
    register_runtime,
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


def onnxruntime_forward(
    path: Union[str, Path], device: str = "cpu", threads: int = 0, output: int = 0
) -> Forward:
    """An ONNX file (one input, the logits as output `output`: 0 = ``seg`` in humanparse's files) on ONNX Runtime;
    `threads` 0 lets it choose."""
    path = existing_file(path, "ONNX")
    onnxruntime = require("onnxruntime", "--backend onnxruntime")
    providers = onnxruntime_providers(device)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as error:
        if "INVALID_PROTOBUF" in str(error):  # a cut-short download: say so with the size
            from humanparse.inference.thirdparty import truncated_message

            raise CheckpointError(truncated_message(path, error)) from None
        raise CheckpointError(
            f"{path}: onnxruntime cannot load it: {first_meaningful_line(error)}"
        ) from error
    model_input = session.get_inputs()[0]
    return batched_forward(
        lambda chunk: session.run(None, {model_input.name: chunk})[output],
        isinstance(model_input.shape[0], int),
        path,
        model_input.shape,
    )


@register_runtime("onnxruntime", order=1)
def load_onnxruntime(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec.weights` (an ONNX file) on ONNX Runtime; the images stay on the CPU (the session moves them)."""
    return model_file_network(spec, device, precision, onnxruntime_forward, "ONNX")
