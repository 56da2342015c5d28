"""The interface every runtime implements, and the registry the factory reads.

A runtime turns a `ModelSpec` (a recipe and its weights, or a ready network) into a `Network`: the forward
function (images (N, 3, h, w) -> float32 logits (N, K, h', w')), the device the images go to and the name the
warnings give. A runtime module registers itself with `@register_runtime`; nothing else names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Union

import numpy as np
import torch
from torch import nn

from humanparse.configs import Config
from humanparse.errors import CheckpointError, ConfigError
from humanparse.models.prepare.autotune import KernelChoice
from humanparse.registry import Registry
from humanparse.zoo import resolve_weights

Forward = Callable[[torch.Tensor], torch.Tensor]
"""images (N, 3, h, w) -> logits (N, K, h', w')."""

PathLike = Union[str, Path]


@dataclass(frozen=True)
class ModelSpec:
    """What to run: `config` and `weights` (a checkpoint, a zoo name or a model file written by humanparse), or
    a ready `model` (then `weights`, when given, only names it in warnings). `config` None: a model file's
    stored recipe (runtimes other than torch)."""

    config: Optional[Config] = None
    weights: Optional[PathLike] = None
    model: Optional[nn.Module] = None
    # torch: the CPU kernel choice (auto, winograd, onednn; None: $HUMANPARSE_KERNELS)
    kernels: Optional[str] = None
    output: int = 0  # which output of a model file holds the logits (1 in OOTDiffusion's parsing_*.onnx)

    @property
    def source(self) -> str:
        """What a warning about the network's outputs names: the weights as given, else "the model"."""
        return str(self.weights) if self.weights is not None else "the model"


@dataclass
class Network:
    """A forward function ready to run. `device`: where the images go (a runtime that moves them itself takes
    them on the CPU); `model`: the (prepared) torch network, None for a model file; `source`: named in warnings."""

    forward: Forward
    device: torch.device
    source: str = "the model"
    model: Optional[nn.Module] = None
    kernels: Optional[KernelChoice] = None  # torch: the prepared network's CPU kernels, and why


Device = Union[str, torch.device]
Loader = Callable[[ModelSpec, Device, str, bool], Network]
"""(spec, device, precision, optimize) -> Network. The loader checks a device given as text, once; a
torch.device has been checked already (e.g. by the trainer)."""


@dataclass(frozen=True)
class Runtime:
    """A registered runtime: its `load` function and `order`, its place in the `--backend` list."""

    name: str
    load: Loader
    order: int = 100


RUNTIMES: Registry[Runtime] = Registry(
    "backend", "humanparse.inference.runtimes", hint=" (see humanparse.inference.runtimes)"
)


def register_runtime(name: str, order: int = 100) -> Callable[[Loader], Loader]:
    """Register a runtime's loader under `name` (the `--backend` value)."""

    def decorate(load: Loader) -> Loader:
        RUNTIMES.add(name, Runtime(name, load, order))
        return load

    return decorate


def require_fp32(precision: str) -> None:
    """Model files carry their own precision: `--precision` applies to the torch runtime only."""
    if precision != "fp32":
        raise ConfigError(f"--precision {precision} applies to --backend torch; a model file sets its own")


def weights_of(spec: ModelSpec, kind: str) -> Path:
    """The model file of `spec` (a zoo name resolved to its verified copy); CheckpointError when none is given."""
    if spec.weights is None:
        raise CheckpointError(f"a {kind} file is needed")
    return resolve_weights(spec.weights)


def model_file_network(
    spec: ModelSpec, device: Device, precision: str, forward_of: Callable[..., Forward], kind: str
) -> Network:
    """The Network of a runtime that runs model files: fp32 only (the file sets its own precision),
    `forward_of(path, device_text, output=)` on the resolved `spec.weights`, and the images left on the CPU (the
    runtime moves them itself)."""
    require_fp32(precision)
    forward = forward_of(weights_of(spec, kind), str(device), output=spec.output)
    return Network(forward, torch.device("cpu"), spec.source)


def existing_file(path: PathLike, kind: str) -> Path:
    """`path` as a Path; CheckpointError when it is no file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {kind} file")
    return path


def batched_forward(
    run: Callable[[np.ndarray], np.ndarray], fixed_batch: bool, path: Path, expected
) -> Forward:
    """A Forward over `run` (a float32 array in, logits out); a file with a static batch takes one image at a
    time."""

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
