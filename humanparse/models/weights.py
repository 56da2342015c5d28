"""Loading weights into a network: format detection, the architecture's key conversion, strict checks with
helpful errors, and `load_for_inference`, the one "build the model, then load its weights".

Formats accepted by `load_weights` (see `checkpoint_io.unwrap`): humanparse's own checkpoints, SSSegmentation's
``{"model": ...}``, SCHP's ``{"state_dict": ...}`` and the official flat state dicts (liutinglt/CE2P, CDGNet,
CSENet). Everything is read with ``torch.load(weights_only=True)``: a file that needs code to unpickle is refused.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import nn

from humanparse.configs import Config, list_configs, load_config
from humanparse.errors import CheckpointError, ConfigError
from humanparse.models.builder import build_model
from humanparse.models.checkpoint_io import (
    OWN_FORMAT,
    StateDict,
    abbreviate,
    non_finite_entries,
    read_checkpoint,
    read_model_description,
    unwrap,
)
from humanparse.models.conversions import LoadReport, compare_shapes, shapes
from humanparse.registry import ARCHITECTURES
from humanparse.zoo import notify_licence, resolve_weights

Converter = Callable[[StateDict], StateDict]


def converter_for(model_or_arch: Union[nn.Module, str]) -> Optional[Converter]:
    """The registered reference-checkpoint converter of a model's (or an arch name's) architecture."""
    if isinstance(model_or_arch, str):
        arch = model_or_arch
    else:
        config = getattr(model_or_arch, "config", None)
        if config is None:
            return None
        arch = config.model.arch
    return ARCHITECTURES.get(arch).converter


def _convert(state: StateDict, fmt: str, converter: Optional[Converter]) -> StateDict:
    if fmt == OWN_FORMAT or converter is None:
        return state
    return converter(state)


@functools.cache
def _config_shapes(name: str) -> Tuple[str, Dict[str, Tuple[int, ...]]]:
    """(arch, key -> shape) of a named config's model, built on the meta device (no memory)."""
    config = load_config(name)
    with torch.device("meta"):
        model = build_model(config)
    return config.model.arch, shapes(model.state_dict())


def suggest_configs(state: StateDict, fmt: str) -> List[str]:
    """Named configs whose model has exactly this checkpoint's keys and shapes."""
    matches = []
    converted_by_arch: Dict[str, Optional[Dict[str, Tuple[int, ...]]]] = {}
    for name in list_configs():
        try:
            arch, expected = _config_shapes(name)
        except Exception:  # a config whose model cannot be built is no suggestion
            continue
        if arch not in converted_by_arch:
            try:
                converted_by_arch[arch] = shapes(_convert(state, fmt, converter_for(arch)))
            except Exception:
                converted_by_arch[arch] = None
        given = converted_by_arch[arch]
        if given is not None and not any(compare_shapes(expected, given)):
            matches.append(name)
    return matches


def load_state(
    model: nn.Module,
    state: StateDict,
    strict: bool = True,
    path: str = "<state dict>",
    fmt: str = "state_dict",
) -> LoadReport:
    """Load a converted state dict; strict: any missing/unexpected/mis-shaped entry is a CheckpointError."""
    expected = shapes(model.state_dict())
    missing, unexpected, mismatched = compare_shapes(expected, shapes(state))
    report = LoadReport(path, fmt, 0, missing, unexpected, mismatched)
    if strict and not report.ok:
        suggestions = suggest_configs(state, fmt) if fmt != "state_dict" else []
        hint = (
            f"these configs fit it: {', '.join(suggestions)}"
            if suggestions
            else "no named config fits it exactly"
        )
        raise CheckpointError(f"{path} does not fit the model ({fmt} format).\n{report}\n{hint}")
    bad = {key.split(" ", 1)[0] for key in mismatched}
    loadable = {key: value for key, value in state.items() if key in expected and key not in bad}
    model.load_state_dict(loadable, strict=False)
    report.converted = len(loadable)
    if not report.ok:
        report.message = "loaded with strict=False: the entries listed above were skipped"
    return report


def load_weights(
    model: nn.Module, source: Union[str, Path], strict: bool = True, map_location: Any = "cpu"
) -> LoadReport:
    """Load a checkpoint file or a model-zoo name into `model`, converting the reference layouts to ours.

    Returns a LoadReport; with strict=True a checkpoint that does not fit raises CheckpointError listing the
    offending keys and the named configs whose model it would fit.
    """
    if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    path = resolve_weights(source)
    state, fmt = unwrap(read_checkpoint(path, map_location), str(path))
    if path.is_dir() or path.suffix == ".safetensors":
        fmt = "huggingface"
    try:
        state = _convert(state, fmt, converter_for(model))
    except CheckpointError:
        raise
    except Exception as error:  # a converter meeting keys it does not expect
        raise CheckpointError(
            f"{path}: cannot convert its {fmt} keys for {type(model).__name__}: {error}"
        ) from error
    return load_state(model, state, strict, str(path), fmt)


def build_uninitialised(config: Config) -> nn.Module:
    """`build_model(config)` on the CPU without its random initialisation, for weights that replace every entry.

    The network is built on the meta device and given uninitialised memory: the random initialisation of a
    ResNet-101 costs most of its build time (about 85% on 2 cores) and a strict load overwrites all of it. A
    tensor the build keeps outside the state dict would stay on the meta device: then the network is built as
    usual. BatchNorm batch counters, which checkpoints may lack, are zeroed.
    """
    with torch.device("meta"):
        model = build_model(config)
    model = model.to_empty(device="cpu")
    for module in model.modules():
        if any(torch.is_tensor(value) and value.is_meta for value in vars(module).values()):
            return build_model(config)
    for name, buffer in model.named_buffers():
        if name.endswith("num_batches_tracked"):
            buffer.zero_()
    return model


def describe_network(config: Config, weights: Union[str, Path]) -> Config:
    """`config` with its network sized as a weights source describing itself says (a Hugging Face folder's
    config.json, through the architecture's `configure`); unchanged for other weights."""
    path = resolve_weights(weights)
    described = read_model_description(path)
    if described is None:
        return config
    configure = ARCHITECTURES.get(config.model.arch).configure
    if configure is None:
        raise CheckpointError(
            f"{path}: a Hugging Face model, which {config.name} ({config.model.arch} network) cannot load"
        )
    return configure(config, described, str(path))


def load_for_inference_with_report(
    config: Union[str, Path, Config], weights: Union[str, Path], device: Union[str, torch.device] = "cpu"
) -> Tuple[nn.Module, LoadReport]:
    """`config`'s network with `weights` loaded strictly, in eval mode on `device`, and `load_weights`'s report.

    The weights replace every parameter, so the recipe's ImageNet file (`model.pretrained`, perhaps a path on
    the machine that trained it) is not read. A Hugging Face folder (or a .safetensors file beside its
    config.json) sizes the network as its config.json says (`describe_network`); the model's `config` is then
    the recipe with that network.
    """
    if not isinstance(config, Config):
        config = load_config(str(config))
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, pretrained=""))
    config = describe_network(config, weights)
    notify_licence(config.name)  # weights not cleared for commercial use: their licence, once per process
    model = build_uninitialised(config)
    report = load_weights(model, weights)
    broken = non_finite_entries(model.state_dict())
    if broken:  # as training refuses to save them: every prediction would be meaningless
        raise CheckpointError(
            f"{weights}: the weights hold NaN or infinite values ({abbreviate(broken)}); a diverged or damaged "
            "checkpoint cannot predict"
        )
    try:
        return model.eval().to(device), report
    except (RuntimeError, AssertionError) as error:  # e.g. a CPU-only torch asked for CUDA
        raise ConfigError(f"cannot use device {device!r}: {str(error).splitlines()[0]}") from error


def load_for_inference(
    config: Union[str, Path, Config], weights: Union[str, Path], device: Union[str, torch.device] = "cpu"
) -> nn.Module:
    """`config`'s network with `weights` loaded strictly, in eval mode on `device` (see
    `load_for_inference_with_report`)."""
    return load_for_inference_with_report(config, weights, device)[0]
