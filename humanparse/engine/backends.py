"""Runtimes a Predictor can run the network on, and `create_predictor`, the one way the commands build one.

* ``torch``: the PyTorch network from a checkpoint (humanparse's or a reference's), prepared for inference;
* ``onnxruntime``: an ONNX file written by `humanparse export`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

from humanparse.configs import Config
from humanparse.engine.predictor import Predictor
from humanparse.engine.tta import Forward
from humanparse.errors import CheckpointError, ConfigError
from humanparse.hardware import resolve_device

# backend -> the forward function of a weights file (the torch backend builds the network instead)
RUNTIME_FORWARDS = {"onnxruntime": lambda path: onnx_forward(path)}
BACKENDS = ("torch", *RUNTIME_FORWARDS)


def onnx_forward(path: Union[str, Path]) -> Forward:
    """An ONNX file written by `humanparse export` (input `image`, first output `seg`) as a forward function."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file")
    try:
        import onnxruntime
    except ImportError as error:
        raise ConfigError("--backend onnxruntime needs `pip install onnxruntime`") from error
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise CheckpointError(f"{path}: onnxruntime cannot load it: {error}") from error
    model_input = session.get_inputs()[0]
    fixed_batch = isinstance(model_input.shape[0], int)

    def forward(images: torch.Tensor) -> torch.Tensor:
        array = images.detach().cpu().numpy().astype(np.float32)
        # a static export takes one image at a time; scales need an export with --dynamic
        chunks = [array[i : i + 1] for i in range(len(array))] if fixed_batch else [array]
        try:
            outputs = [session.run(None, {model_input.name: chunk})[0] for chunk in chunks]
        except Exception as error:
            raise ConfigError(
                f"{path}: the ONNX model rejected an input of shape {chunks[0].shape} "
                f"(expects {model_input.shape}); export with --dynamic for other sizes or scales"
            ) from error
        return torch.from_numpy(np.concatenate(outputs))

    return forward


def create_predictor(
    config: Union[str, Path, Config],
    weights: Union[str, Path],
    *,
    backend: str = "torch",
    device: str = "cpu",
    precision: str = "fp32",
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
) -> Predictor:
    """A Predictor for `config` whose network is `weights` run on `backend` (see BACKENDS)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    resolve_device(device)
    if backend == "torch":
        return Predictor(config, weights, device=device, precision=precision, scales=scales, flip=flip)
    if device != "cpu":
        raise ConfigError(f"--backend {backend} runs on the CPU here; use --device cpu")
    predictor = Predictor(
        config, forward=RUNTIME_FORWARDS[backend](weights), device=device, scales=scales, flip=flip
    )
    predictor.tta.source = str(weights)
    return predictor
