"""The openvino runtime: an OpenVINO IR (.xml with its .bin, from `humanparse quantize --backend openvino`) or an
ONNX file on OpenVINO's CPU plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from humanparse.errors import CheckpointError, ConfigError, HumanParseError, first_meaningful_line
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

OPENVINO_PRECISIONS = {"fp32": "f32", "bf16": "bf16"}  # --precision -> the CPU plugin's inference precision


def compile_openvino(model, threads: int = 0, precision: str = "fp32", blobs: Optional[Path] = None):
    """`model` (an ov.Model, or the path of an IR / ONNX file) compiled for OpenVINO's CPU plugin in `precision`
    (fp32 or bf16); `threads` 0 lets it choose; `blobs`: a folder where the plugin keeps its compiled kernels
    for the next process (about a second less to start a ResNet-101). Loading errors propagate (the callers word
    them)."""
    openvino = require("openvino", "--backend openvino")
    core = openvino.Core()
    # an explicit precision: on CPUs with AMX / AVX-512 BF16 the plugin would otherwise run a float file in bf16,
    # which moves a transformer's labels (LayerNorm, softmax) far more than a CNN's
    config: dict = {"INFERENCE_PRECISION_HINT": OPENVINO_PRECISIONS[precision]}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    if blobs is not None:
        config["CACHE_DIR"] = str(blobs)
    if isinstance(model, (str, Path)):
        model = core.read_model(str(model))
    return core.compile_model(model, "CPU", config)


def compiled_forward(compiled, path: Union[str, Path], output: int = 0) -> Forward:
    """The Forward of an OpenVINO compiled model (one infer request), the logits as output `output`; `path`
    names the model in errors."""
    request = compiled.create_infer_request()
    shape = compiled.inputs[0].get_partial_shape()
    fixed_batch = shape.rank.is_static and shape[0].is_static

    def run(chunk: np.ndarray) -> np.ndarray:
        request.infer({0: chunk})
        return np.array(request.get_output_tensor(output).data, copy=True)

    return batched_forward(run, fixed_batch, Path(path), shape)


def openvino_forward(
    path: Union[str, Path], device: str = "cpu", threads: int = 0, output: int = 0
) -> Forward:
    """An OpenVINO IR (.xml with its .bin) or ONNX file on OpenVINO's CPU plugin in f32, the logits as output
    `output`; `threads` 0 lets it choose."""
    if device != "cpu":
        raise ConfigError("--backend openvino runs on the CPU here; use --device cpu")
    path = existing_file(path, "model")
    try:
        compiled = compile_openvino(path, threads)
    except HumanParseError:
        raise
    except Exception as error:
        raise CheckpointError(f"{path}: OpenVINO cannot load it: {first_meaningful_line(error)}") from error
    return compiled_forward(compiled, path, output)


@register_runtime("openvino", order=2)
def load_openvino(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec.weights` (an IR or ONNX file) on OpenVINO's CPU plugin."""
    return model_file_network(spec, device, precision, openvino_forward, "model")
