"""Forward functions (images (N, 3, H, W) -> ``seg`` logits) of exported files on ONNX Runtime and OpenVINO.

Both accept the fp32 files of `humanparse export` and the int8 files of `humanparse quantize`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Union

import numpy as np
import torch

from humanparse.errors import CheckpointError, ConfigError
from humanparse.extras import require
from humanparse.inference.tta import Forward


def _existing(path: Union[str, Path], kind: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {kind} file")
    return path


def _batched(run: Callable[[np.ndarray], np.ndarray], fixed_batch: bool, path: Path, expected) -> Forward:
    """A Forward over `run`; a static file takes one image at a time."""

    def forward(images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        chunks: List[np.ndarray] = [array[i : i + 1] for i in range(len(array))] if fixed_batch else [array]
        try:
            outputs = [run(chunk) for chunk in chunks]
        except Exception as error:
            raise ConfigError(
                f"{path}: the model rejected an input of shape {chunks[0].shape} (expects {expected}); "
                "export with --dynamic for other sizes or scales"
            ) from error
        return torch.from_numpy(np.concatenate(outputs))

    return forward


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
    path = _existing(path, "ONNX")
    onnxruntime = require("onnxruntime", "--backend onnxruntime")
    providers = onnxruntime_providers(device)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as error:
        raise CheckpointError(f"{path}: onnxruntime cannot load it: {error}") from error
    model_input = session.get_inputs()[0]
    return _batched(
        lambda chunk: session.run(None, {model_input.name: chunk})[0],
        isinstance(model_input.shape[0], int),
        path,
        model_input.shape,
    )


def openvino_forward(path: Union[str, Path], device: str = "cpu", threads: int = 0) -> Forward:
    """An OpenVINO IR (.xml with its .bin) or ONNX file on OpenVINO's CPU plugin; `threads` 0 lets it choose."""
    if device != "cpu":
        raise ConfigError("--backend openvino runs on the CPU here; use --device cpu")
    path = _existing(path, "model")
    openvino = require("openvino", "--backend openvino")
    core = openvino.Core()
    # f32 where the file is float: on CPUs with AMX / AVX-512 BF16 the plugin would otherwise run it in bf16,
    # which moves a transformer's labels (LayerNorm, softmax) far more than a CNN's
    config: dict = {"INFERENCE_PRECISION_HINT": "f32"}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    except Exception as error:
        raise CheckpointError(f"{path}: OpenVINO cannot load it: {error}") from error
    request = compiled.create_infer_request()
    model_input = compiled.inputs[0]
    shape = model_input.get_partial_shape()
    fixed_batch = shape.rank.is_static and shape[0].is_static

    def run(chunk: np.ndarray) -> np.ndarray:
        request.infer({0: chunk})
        return np.array(request.get_output_tensor(0).data, copy=True)

    return _batched(run, fixed_batch, path, shape)
