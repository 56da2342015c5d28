"""`create_predictor`, the one way the commands (predict, test, serve) build what runs the network.

The runtimes are `humanparse.inference.runtimes` (torch, onnxruntime, openvino, one module each). Files written
by humanparse describe their recipe, so the runtimes other than torch need no config (`config=None`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Sequence, Union

from humanparse.configs import Config
from humanparse.errors import ConfigError
from humanparse.inference.metadata import config_from_model_file
from humanparse.inference.predictor import Predictor, resolve_config
from humanparse.inference.runtimes import Device, Forward, ModelSpec, Network, backends, build_network
from humanparse.zoo import notify_licence, resolve_weights

BACKENDS = backends()


def resolve_model(
    config: Optional[Union[str, Path, Config]], weights: Union[str, Path], backend: str = "torch"
) -> ModelSpec:
    """The ModelSpec of a command's CONFIG WEIGHTS: `config` None reads the recipe stored in a model file
    written by humanparse, or recognises a third-party file (OOTDiffusion's `parsing_atr.onnx` /
    `parsing_lip.onnx`, see `thirdparty`: run as it is, its logits from the fusion output) (runtimes other than
    torch)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend != "torch":
        from humanparse.inference.thirdparty import identify

        known = identify(weights)
        if known is not None:
            recipe = resolve_config(known.recipe if config is None else config)
            return ModelSpec(recipe, weights, output=known.output_index)
    if config is None:
        if backend == "torch":
            raise ConfigError("--backend torch needs a config (a recipe name or YAML file)")
        weights = resolve_weights(weights)  # a zoo name of a model file
        return ModelSpec(config_from_model_file(weights), weights)
    return ModelSpec(resolve_config(config), weights)


def runtime_forward(backend: str, weights: Union[str, Path], device: Device = "cpu") -> Forward:
    """The forward function of a model file written by humanparse on a runtime backend."""
    return create_network(None, weights, backend=backend, device=device).forward


def create_network(
    config: Optional[Union[str, Path, Config]],
    weights: Union[str, Path],
    *,
    backend: str = "torch",
    device: Device = "cpu",
    precision: str = "fp32",
) -> Network:
    """The forward function of CONFIG WEIGHTS on `backend` (see `build_network`)."""
    return build_network(resolve_model(config, weights, backend), backend, device, precision)


def create_predictor(
    config: Optional[Union[str, Path, Config]],
    weights: Union[str, Path],
    *,
    backend: str = "torch",
    device: Device = "cpu",
    precision: str = "fp32",
    scales: Optional[Sequence[float]] = None,
    flip: Optional[bool] = None,
    kernels: Optional[str] = None,
) -> Predictor:
    """A Predictor for `config` whose network is `weights` run on `backend` (see BACKENDS).

    `config` None reads the recipe stored in a model file written by humanparse (runtime backends only).
    `kernels` (torch): the CPU kernel choice, see `humanparse.models.prepare.choose_kernels`.
    """
    if kernels is not None and backend not in ("torch", "auto"):
        raise ConfigError(f"--kernels {kernels} applies to --backend torch; {backend} picks its own kernels")
    spec = dataclasses.replace(resolve_model(config, weights, backend), kernels=kernels)
    network = build_network(spec, backend, device, precision)
    assert spec.config is not None  # resolve_model gives one
    notify_licence(
        spec.config.name
    )  # weights not cleared for commercial use (model files too): once per process
    return Predictor(spec.config, network=network, scales=scales, flip=flip)
