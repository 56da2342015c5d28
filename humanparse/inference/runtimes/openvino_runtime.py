"""The openvino runtime: an OpenVINO IR (.xml with its .bin, from `humanparse quantize --backend openvino`) or an
ONNX file on OpenVINO's CPU plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

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


def openvino_forward(
    path: Union[str, Path], device: str = "cpu", threads: int = 0, output: int = 0
) -> Forward:
    """An OpenVINO IR (.xml with its .bin) or ONNX file on OpenVINO's CPU plugin, the logits as output `output`;
    `threads` 0 lets it choose."""
    if device != "cpu":
        raise ConfigError("--backend openvino runs on the CPU here; use --device cpu")
    path = existing_file(path, "model")
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
        raise CheckpointError(f"{path}: OpenVINO cannot load it: {first_meaningful_line(error)}") from error
    request = compiled.create_infer_request()
    model_input = compiled.inputs[0]
    shape = model_input.get_partial_shape()
    fixed_batch = shape.rank.is_static and shape[0].is_static

    def run(chunk: np.ndarray) -> np.ndarray:
        request.infer({0: chunk})
        return np.array(request.get_output_tensor(output).data, copy=True)

    return batched_forward(run, fixed_batch, path, shape)


@register_runtime("openvino", order=2)
def load_openvino(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec.weights` (an IR or ONNX file) on OpenVINO's CPU plugin."""
    return model_file_network(spec, device, precision, openvino_forward, "model")
