"""The torch runtime: the PyTorch network of a checkpoint (humanparse's or a reference's) or a given `nn.Module`,
prepared for inference, under the precision asked for."""

from __future__ import annotations

import torch

from humanparse.errors import CheckpointError, ConfigError
from humanparse.hardware import check_precision, resolve_device, warn_if_slow_bf16
from humanparse.inference.runtimes.base import Device, Forward, ModelSpec, Network, register_runtime
from humanparse.models.prepare import autocast, prepare_for_inference, uses_channels_last
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
    folds BatchNorm and goes channels_last (a given model is copied for that, never modified)."""
    if spec.config is None:
        raise ConfigError("--backend torch needs a config (a recipe name or YAML file)")
    target = device if isinstance(device, torch.device) else resolve_device(device)
    owned = spec.model is None
    if spec.model is not None:
        model = spec.model
    elif spec.weights is not None:
        model = load_for_inference(spec.config, spec.weights, target)
    else:
        raise CheckpointError("Predictor needs a checkpoint, a model or a forward function")
    model = model.eval().to(target)
    if optimize:
        example = torch.zeros(1, 3, EXAMPLE_SIDE, EXAMPLE_SIDE, device=target)
        model = prepare_for_inference(model, example, inplace=owned)
    return Network(model_forward(model, spec.config.eval.output, precision), target, spec.source, model)
