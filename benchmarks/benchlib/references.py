"""Ours and the reference implementations, built with the same weights, ready to time.

References: SSSegmentation 1.7.0's CE2P for ce2p_resnet* (`pip install 'humanparse[bench]'`) and the official
CSENet code for csenet_* (a tjpulkl/BSSGNet clone given with --csenet-repo). Both are imported at run time with
the shims described in benchmarks/README.md; nothing is patched on disk.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn


class ReferenceUnavailable(Exception):
    """A reference implementation cannot be built here; the message says why (shown in its table row)."""


# ---------------------------------------------------------------------------------------------------------------
# the implementations: ours and the references, built with the same weights


@dataclass
class Implementation:
    """A network ready to time: `forward(images)` returns the final parsing logits."""

    name: str
    module: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]
    channels_last: bool = False


def reference_name(config_name: str) -> str:
    """Which reference implementation a recipe is compared with."""
    if config_name.startswith("ce2p_resnet"):
        return "sssegmentation"
    if config_name.startswith("csenet"):
        return "csenet_official"
    return "none"


def build_ours(
    config_name: str, device: torch.device, precision: str, example_size: int = 65
) -> Implementation:
    """Our network for a recipe, random weights, prepared for inference (BatchNorm folded, channels_last)."""
    from humanparse.models.builder import build_model

    model = build_model(config_name).eval().to(device)
    return prepare_ours(model, device, precision, example_size)


def prepare_ours(
    model: nn.Module, device: torch.device, precision: str, example_size: int = 65
) -> Implementation:
    """Wrap an eval-mode network of ours as it runs in inference: folded, channels_last, autocast for bf16/fp16."""
    from humanparse.models.prepare import autocast, prepare_for_inference, to_input

    example = to_input(torch.randn(1, 3, example_size, example_size, device=device))
    prepared = prepare_for_inference(model, example, inplace=True)

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), autocast(device, precision):
            return prepared(to_input(images))["seg"]

    return Implementation("humanparse", prepared, forward, channels_last=True)


def ssseg_ce2p_config(config_name: str, num_classes: int) -> Dict[str, Any]:
    """SSSegmentation 1.7.0's segmentor config for a ce2p_resnet{50,101}os{8,16}_* recipe (as its configs set it)."""
    # configs/_base_/segmentors/ce2p.py of SSSegmentation; the PyPI sdist ships no configs, so they are spelled here
    depth = 101 if "resnet101" in config_name else 50
    outstride = 8 if "os8" in config_name else 16
    cross_entropy = {
        "type": "CrossEntropyLoss",
        "scale_factor": 1.0,
        "ignore_index": -100,
        "reduction": "mean",
    }
    return {
        "type": "CE2P",
        "num_classes": num_classes,
        "benchmark": True,
        "align_corners": False,
        "norm_cfg": {
            "type": "BatchNorm2d"
        },  # SyncBatchNorm in its configs: the same in eval, and runs on one CPU
        "act_cfg": {"type": "LeakyReLU", "negative_slope": 0.01, "inplace": True},
        "backbone": {
            "type": "ResNet",
            "depth": depth,
            "structure_type": f"resnet{depth}conv3x3stem",
            "pretrained": False,
            "outstride": outstride,
            "use_conv3x3_stem": True,
            "selected_indices": (0, 1, 2, 3),
        },
        "head": {
            "in_channels_list": [256, 512, 1024, 2048],
            "feats_channels": 512,
            "pool_scales": [1, 2, 3, 6],
            "epm_hidden_channels": 256,
            "shortcut_feats_channels": 48,
            "epm_out_channels": 2,
            "dropout_stage1": 0,
            "dropout_stage2": 0.1,
        },
        "losses": {
            "loss_cls_stage1": dict(cross_entropy),
            "loss_cls_stage2": dict(cross_entropy),
            "loss_edge": dict(cross_entropy),
        },
        # single scale, no flip: the test protocol of SSSegmentation's LIP configs and of ours
        "inference": {
            "forward": {"mode": "whole"},
            "tta": {"multiscale": [1], "flip": False, "use_probs_before_resize": False},
        },
    }


# Packages that SSSegmentation 1.7.0 imports at package import time for its datasets, config parser and
# transforms, but that its CE2P network never calls; its sdist declares no dependencies, so they are often absent.
SSSEG_IMPORT_ONLY_PACKAGES = ("pandas", "dill", "torchvision")


class _Placeholder:
    """Stands for any attribute of a placeholder package: callable, iterable, and every attribute is itself."""

    def __call__(self, *args: Any, **kwargs: Any) -> _Placeholder:
        return self

    def __getattr__(self, name: str) -> _Placeholder:
        return self

    def __iter__(self):
        return iter(())


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Placeholder()


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports placeholder modules for `names` (and their submodules); last on sys.meta_path, so real ones win."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = set(names)
        self.created: List[str] = []

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname.split(".")[0] in self.names:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _PlaceholderModule(spec.name)
        module.__path__ = []
        self.created.append(spec.name)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install_torchvision_stand_in() -> None:
    """Where torchvision is not installed: `torchvision.transforms` with ToTensor, Normalize and Compose, the
    same arithmetic (all that the reference scripts use of it)."""
    if "torchvision" in sys.modules or importlib.util.find_spec("torchvision") is not None:
        return
    import numpy as np

    class ToTensor:  # HWC uint8 (array or PIL image) -> CHW float in [0, 1]
        def __call__(self, picture):
            return (
                torch.from_numpy(np.ascontiguousarray(np.asarray(picture).transpose(2, 0, 1)))
                .float()
                .div(255)
            )

    class Normalize:
        def __init__(self, mean, std):
            self.mean = torch.tensor(mean).view(-1, 1, 1)
            self.std = torch.tensor(std).view(-1, 1, 1)

        def __call__(self, tensor):
            return (tensor - self.mean) / self.std

    class Compose:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, value):
            for step in self.steps:
                value = step(value)
            return value

    transforms = types.ModuleType("torchvision.transforms")
    transforms.ToTensor, transforms.Normalize, transforms.Compose = ToTensor, Normalize, Compose
    torchvision = types.ModuleType("torchvision")
    torchvision.transforms = transforms
    sys.modules.update({"torchvision": torchvision, "torchvision.transforms": transforms})


def import_sssegmentation() -> Tuple[Any, Any]:
    """SSSegmentation's (BuildSegmentor, SSSegInputStructure); raises ReferenceUnavailable when not installed.

    Run-time shim: SSSegmentation's package import pulls in pandas, dill and torchvision for its datasets and
    transforms. Where they are missing, placeholder modules stand in during that import only, and are removed
    from sys.modules afterwards so nothing else in the process sees them.
    """
    if importlib.util.find_spec("ssseg") is None:
        raise ReferenceUnavailable("SSSegmentation not installed: pip install 'humanparse[bench]'")
    finder = _PlaceholderFinder(SSSEG_IMPORT_ONLY_PACKAGES)
    sys.meta_path.append(finder)
    try:
        from ssseg.modules import BuildSegmentor, SSSegInputStructure
    except Exception as error:  # an incompatible install: report it in the row instead of failing the run
        raise ReferenceUnavailable(
            f"cannot import SSSegmentation: {error.__class__.__name__}: {error}"
        ) from error
    finally:
        sys.meta_path.remove(finder)
        for name in finder.created:
            sys.modules.pop(name, None)
    return BuildSegmentor, SSSegInputStructure


def build_sssegmentation_ce2p(config_name: str, device: torch.device, mode: str = "TEST") -> Implementation:
    """SSSegmentation 1.7.0's CE2P (random weights) for a ce2p recipe; raises ReferenceUnavailable without it."""
    BuildSegmentor, SSSegInputStructure = import_sssegmentation()
    from humanparse.configs import load_config

    num_classes = load_config(config_name).model.num_classes
    model = BuildSegmentor(ssseg_ce2p_config(config_name, num_classes), mode=mode).to(device)
    if mode == "TEST":
        model.eval()

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(SSSegInputStructure(mode="TEST", images=images)).seg_logits

    return Implementation("sssegmentation 1.7.0", model, forward)


def import_official_csenet(repo: Optional[str]):
    """The official CSENet network module (tjpulkl/BSSGNet networks/BSSGNet.py) from a clone at `repo`.

    The clone's own `utils.attention.InPlaceABNSync` is already plain BatchNorm + LeakyReLU, so it runs on the CPU
    as is; the clone's directory is put first on sys.path at run time because its imports are relative to it.
    """
    if not repo:
        raise ReferenceUnavailable(
            "official CSENet code not given (--csenet-repo PATH to a tjpulkl/BSSGNet clone)"
        )
    network_file = os.path.join(repo, "networks", "BSSGNet.py")
    if not os.path.isfile(network_file):
        raise ReferenceUnavailable(f"{network_file} not found: --csenet-repo must be a tjpulkl/BSSGNet clone")
    if repo not in sys.path:
        sys.path.insert(0, repo)
    try:
        return importlib.import_module("networks.BSSGNet")
    except Exception as error:  # an incompatible clone: report it in the row instead of failing the run
        raise ReferenceUnavailable(f"cannot import {network_file}: {error}") from error


def build_official_csenet(config_name: str, device: torch.device, repo: Optional[str]) -> Implementation:
    """The official CSENet network (random weights) for a csenet recipe."""
    from humanparse.configs import load_config

    network = import_official_csenet(repo)
    config = load_config(config_name)
    height, width = config.model.input_size
    model = network.Res_Deeplab(num_classes=config.model.num_classes, img_width=width, img_height=height)
    model = model.to(device).eval()

    def forward(images: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(images)[0][2]  # [[seg1, seg2, seg3], [edge], [hpred, wpred]]: seg3 is the final map

    return Implementation("official CSENet", model, forward)


def build_reference(
    config_name: str, device: torch.device, csenet_repo: Optional[str] = None, mode: str = "TEST"
) -> Implementation:
    """The reference implementation of a recipe; raises ReferenceUnavailable when it cannot be built here."""
    kind = reference_name(config_name)
    if kind == "sssegmentation":
        return build_sssegmentation_ce2p(config_name, device, mode=mode)
    if kind == "csenet_official":
        return build_official_csenet(config_name, device, csenet_repo)
    raise ReferenceUnavailable(
        "no reference wired: the issue sets reference targets only for ce2p_resnet* (SSSegmentation) and csenet_*"
    )


def calibrate_batch_norms(
    model: nn.Module, forward: Callable[[torch.Tensor], Any], images: torch.Tensor, seed: int
) -> None:
    """Seeded random scales and shifts in every BatchNorm, and the statistics of `images` (one forward).

    A random network with fresh BatchNorms (identities) gives flat label maps, so label equality would say
    nothing; with its activations normalised like a trained network's, the labels vary across the photo.
    """
    generator = torch.Generator().manual_seed(seed)
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5, generator=generator)
            norm.bias.normal_(0.0, 0.2, generator=generator)
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average over the batch
            norm.train()
        forward(images)
    for norm in norms:
        norm.momentum = 0.1
        norm.eval()


def our_weights_from_reference(config_name: str, reference_state: Dict[str, torch.Tensor]) -> Dict[str, Any]:
    """The reference's state_dict converted into our key space (by the architecture's convert_checkpoint)."""
    from humanparse.configs import load_config
    from humanparse.models.weights import converter_for

    return converter_for(load_config(config_name).model.arch)(dict(reference_state))


def build_pair(
    config_name: str, device: torch.device, precision: str, csenet_repo: Optional[str] = None
) -> Tuple[Implementation, Optional[Implementation], str]:
    """Ours and the reference with the SAME weights (the reference's random ones, converted to our keys).

    Returns (ours, reference or None, a note: why the reference is missing, or "").
    """
    from humanparse.models.builder import build_model

    model = build_model(config_name).eval().to(device)
    try:
        reference = build_reference(config_name, device, csenet_repo)
    except ReferenceUnavailable as error:
        return prepare_ours(model, device, precision), None, str(error)
    state = our_weights_from_reference(config_name, reference.module.state_dict())
    model.load_state_dict(state, strict=True)
    return prepare_ours(model, device, precision), reference, ""
