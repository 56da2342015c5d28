"""Runtimes a Predictor can run the network on, and `create_predictor`, the one way the commands build one.

* ``torch``: the PyTorch network from a checkpoint (humanparse's or a reference's), prepared for inference;
* ``onnxruntime``: an ONNX file from `humanparse export` or `humanparse quantize` (CPU, or CUDA where installed);
* ``openvino``: an OpenVINO IR (.xml) from `humanparse quantize --backend openvino`, or an ONNX file (CPU).

Files written by humanparse describe their recipe, so the runtimes need no config (`config=None`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Union

from humanparse.configs import Config
from humanparse.inference.runtimes import onnxruntime_forward, openvino_forward
from humanparse.inference.predictor import Predictor
from humanparse.inference.tta import Forward
from humanparse.errors import ConfigError
from humanparse.hardware import resolve_device

# backend -> the forward function of a model file on a device (the torch backend builds the network instead)
RUNTIME_FORWARDS: Dict[str, Callable[[Union[str, Path], str], Forward]] = {
    "onnxruntime": onnxruntime_forward,
    "openvino": openvino_forward,
}
BACKENDS = ("torch", *RUNTIME_FORWARDS)


def onnx_forward(path: Union[str, Path]) -> Forward:
    """An ONNX file written by `humanparse export` (input `image`, first output `seg`) on ONNX Runtime's CPU."""
    return onnxruntime_forward(path)


def runtime_forward(backend: str, weights: Union[str, Path], device: str = "cpu") -> Forward:
    """The forward function of a model file on a runtime backend (not ``torch``)."""
    if backend not in RUNTIME_FORWARDS:
        raise ConfigError(f"unknown runtime backend {backend!r}; choose from {', '.join(RUNTIME_FORWARDS)}")
    return RUNTIME_FORWARDS[backend](weights, device)


def create_predictor(
    config: Optional[Union[str, Path, Config]],
    weights: Union[str, Path],
    *,
    backend: str = "torch",
    device: str = "cpu",
    precision: str = "fp32",
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
) -> Predictor:
    """A Predictor for `config` whose network is `weights` run on `backend` (see BACKENDS).

    `config` None reads the recipe stored in a model file written by humanparse (runtime backends only).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if config is None:
        if backend == "torch":
            raise ConfigError("--backend torch needs a config (a recipe name or YAML file)")
        from humanparse.inference.metadata import config_from_model_file

        config = config_from_model_file(weights)
    if backend == "torch":
        resolve_device(device)
        return Predictor(config, weights, device=device, precision=precision, scales=scales, flip=flip)
    if precision != "fp32":
        raise ConfigError(f"--precision {precision} applies to --backend torch; a model file sets its own")
    from humanparse.configs.licences import notify_licence

    notify_licence(config)  # the torch backend's loader does this for checkpoints
    # the runtime moves the images to its device itself; the test-time protocol runs on the CPU
    forward = runtime_forward(backend, weights, device)
    predictor = Predictor(config, forward=forward, device="cpu", scales=scales, flip=flip)
    predictor.tta.source = str(weights)  # named in the warning about non-finite logits
    return predictor
