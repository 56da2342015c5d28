"""The torch runtime: the PyTorch network of a checkpoint (humanparse's or a reference's) or a given `nn.Module`,
prepared for inference, under the precision asked for."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from humanparse.configs import Config
from humanparse.errors import CheckpointError, ConfigError
from humanparse.hardware import check_precision, resolve_device, warn_if_slow_bf16
from humanparse.inference.runtimes.base import Device, Forward, ModelSpec, Network, register_runtime
from humanparse.inference.runtimes.compiled import (
    ENGINE,
    cached_network,
    choose_engine,
    engine_candidate,
    plan_engine,
)
from humanparse.models.prepare import autocast, prepare_with_choice, resolve_kernel_mode, uses_channels_last
from humanparse.models.weights import load_for_inference

EXAMPLE_SIDE = 65  # px: the small input `prepare_for_inference` traces the network with


def model_forward(model: torch.nn.Module, output: str = "seg", precision: str = "fp32") -> Forward:
    """Wrap a humanparse model (which returns a dict) as a function returning the scored output's float32 logits.

    `precision` "bf16"/"fp16" runs the network under autocast (bf16 on a CPU without native bf16 logs a warning
    once, fp16 on a CPU is a ConfigError, see `humanparse.hardware`); images go in channels_last when the model's
    weights are (see `humanparse.models.prepare.prepare_for_inference`).
    """
    channels_last = uses_channels_last(model)

    def forward(images: torch.Tensor) -> torch.Tensor:
        check_precision(images.device, precision)
        warn_if_slow_bf16(images.device, precision)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with autocast(images.device, precision):
            outputs = model(images)
        if isinstance(outputs, torch.Tensor):
            return outputs.float()
        if output not in outputs:
            raise ConfigError(
                f"eval.output={output!r} is not a model output; the model gives {sorted(outputs)}"
            )
        return outputs[output].float()

    return forward


@register_runtime("torch", order=0)
def load_torch(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec.model`, or `spec.config`'s network with `spec.weights` loaded, in eval mode on `device`; `optimize`
    folds BatchNorm and picks the CPU kernels by measurement, `spec.kernels` forcing them (a given model is copied
    for that, never modified). On the CPU the kernels may be OpenVINO's, the whole network compiled (see
    `compiled`): then a cached compilation is used without loading the checkpoint into PyTorch."""
    if spec.config is None:
        raise ConfigError("--backend torch needs a config (a recipe name or YAML file)")
    target = device if isinstance(device, torch.device) else resolve_device(device)
    return torch_network(spec, target, precision, optimize, network_input_shape(spec.config))


def torch_network(
    spec: ModelSpec,
    target: torch.device,
    precision: str,
    optimize: bool,
    input_shape: Optional[Tuple[int, ...]],
    own_model: bool = False,
    compile_module: bool = False,
) -> Network:
    """`load_torch` on a checked device, the kernels chosen for `input_shape` (None: the size varies; the
    kernels are assumed, the engines timed at the recipe's model.input_size). `own_model`: `spec.model` may be
    prepared in place (the caller's own copy). A given `spec.model` is compiled by OpenVINO under `--kernels auto`
    only with `compile_module` (`humanparse benchmark`): elsewhere (the trainer's validation, a module passed to
    the Python API) it would be converted again every time, with no weights file to cache the result by."""
    assert spec.config is not None
    mode, source = resolve_kernel_mode(spec.kernels)
    plan = None
    compilable = spec.model is None or compile_module or mode == ENGINE
    if optimize and compilable and engine_candidate(mode, precision, target):
        shape = input_shape or (1, 3, *spec.config.model.input_size)
        plan = plan_engine(spec, mode, source, shape, precision)
        ready = cached_network(plan, spec)
        if ready is not None:
            return ready
    owned = spec.model is None or own_model
    if spec.model is not None:
        model = spec.model
    elif spec.weights is not None:
        model = load_for_inference(spec.config, spec.weights, target)
    else:
        raise CheckpointError("Predictor needs a checkpoint, a model or a forward function")
    model = model.eval().to(target)
    kernels = None
    if optimize:
        example = torch.zeros(1, 3, EXAMPLE_SIDE, EXAMPLE_SIDE, device=target)
        model, kernels = prepare_with_choice(
            model,
            example,
            inplace=owned,
            kernels="onednn" if mode == ENGINE else spec.kernels,  # the compiled network runs instead
            input_shape=input_shape,
            precision=precision,
        )
    forward = model_forward(model, spec.config.eval.output, precision)
    network = Network(forward, target, spec.source, model, kernels)
    if plan is not None:
        network = choose_engine(plan, network, spec, spec.config.eval.output)
    return network


def network_input_shape(config: Config) -> Optional[Tuple[int, ...]]:
    """The network input of one photo under `config.eval`, for the kernel choice (the flipped copy and other
    scales reuse the same kernels); None when the size varies with the photo (keep-ratio resizing)."""
    evaluation = config.eval
    if evaluation.protocol == "resize" and evaluation.keep_ratio:
        return None
    return (1, 3, *(int(side) for side in evaluation.input_size))
