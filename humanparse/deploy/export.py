"""ONNX export of a network's eval-mode parsing logits, checked against onnxruntime before it is written.

torch's TorchScript exporter cannot export ``AdaptiveAvgPool2d`` when the output size does not divide the input
(PSP's 2/3/6 bins, CSENet's upsampling row/column pools) or the input size is dynamic, and the dynamo exporter
needs onnxscript. The export therefore runs on a copy of the model whose adaptive pools are rewritten as two
averaging matrices built from the runtime size (the same bins as PyTorch, equal up to float32 noise).
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from humanparse.errors import ConfigError
from humanparse.extras import require
from humanparse.outputs import write_failure
from humanparse.temporaries import remove_stale_files, temporary_file

INPUT_NAME = "image"
MIN_OPSET = 11  # CE2P and SCHP; CSENet's grid_sample needs 16
# the newest opset torch's TorchScript exporter writes
MAX_OPSET = int(getattr(torch.onnx._constants, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", 20))


def check_opset(opset: int) -> int:
    """ConfigError unless MIN_OPSET <= opset <= MAX_OPSET."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ConfigError(f"--opset {opset}: the ONNX exporter writes opsets {MIN_OPSET} to {MAX_OPSET}")
    return opset


class MatrixAdaptiveAvgPool2d(nn.Module):
    """``AdaptiveAvgPool2d`` as ``P_h @ x @ P_w^T``: bin i of n over a length L covers [floor(iL/n), ceil((i+1)L/n))."""

    def __init__(self, output_size: Union[int, Sequence[int]]) -> None:
        super().__init__()
        self.output_size = _pair(output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_h, out_w = self.output_size
        out_h = x.shape[2] if out_h is None else out_h
        out_w = x.shape[3] if out_w is None else out_w
        rows = _averaging_matrix(x.shape[2], out_h, x)
        cols = _averaging_matrix(x.shape[3], out_w, x)
        return torch.matmul(torch.matmul(rows, x), cols.transpose(0, 1))


def _pair(size: Union[int, Sequence[int]]) -> Tuple:
    return (size, size) if isinstance(size, int) else tuple(size)


def _averaging_matrix(length: int, bins: int, like: torch.Tensor) -> torch.Tensor:
    """(bins, length) matrix whose row i averages bin i; ``length`` may be a traced size."""
    index = torch.arange(bins, device=like.device).unsqueeze(1)
    start = torch.div(index * length, bins, rounding_mode="floor")
    end = torch.div((index + 1) * length + bins - 1, bins, rounding_mode="floor")
    position = torch.arange(length, device=like.device).unsqueeze(0)
    inside = ((position >= start) & (position < end)).to(like.dtype)
    return inside / (end - start).to(like.dtype)


class _SegmentationOutputs(nn.Module):
    """The eval model reduced to ``seg`` (and, with ``with_argmax``, the label map at the input size)."""

    def __init__(self, model: nn.Module, with_argmax: bool, align_corners: bool) -> None:
        super().__init__()
        self.model = model
        self.with_argmax = with_argmax
        self.align_corners = align_corners

    def forward(self, image: torch.Tensor):
        seg = self.model(image)["seg"]
        if not self.with_argmax:
            return seg
        size = (image.shape[2], image.shape[3])
        full = F.interpolate(seg, size=size, mode="bilinear", align_corners=self.align_corners)
        return seg, torch.argmax(full, dim=1)


def exportable_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode whose non-global ``nn.AdaptiveAvgPool2d`` are `MatrixAdaptiveAvgPool2d`."""
    model = copy.deepcopy(model).eval()
    for name, module in list(model.named_modules()):
        # global pools export natively (GlobalAveragePool) and stay bit-identical
        if isinstance(module, nn.AdaptiveAvgPool2d) and _pair(module.output_size) != (1, 1):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, MatrixAdaptiveAvgPool2d(module.output_size))
    return model


class ExportMismatch(RuntimeError):
    """The exported file's outputs differ from PyTorch's by more than the tolerance; nothing was written."""


def export_onnx(
    model: nn.Module,
    path: Union[str, Path],
    input_size: Tuple[int, int] = (473, 473),
    dynamic: bool = False,
    opset: int = 17,
    with_argmax: bool = False,
    verify: bool = True,
    tolerance: float = 1e-3,
    config=None,
    verification: Optional[Dict[str, float]] = None,
) -> Path:
    """Export ``model`` (eval mode) to ONNX with input ``image`` (N, 3, H, W) and output ``seg`` logits.

    ``seg`` stays at the head's native resolution (about 1/4 of the input). ``with_argmax`` adds ``labels``
    (N, H, W) int64: ``seg`` upsampled to the input size (bilinear, the recipe's ``train.align_corners``) then
    argmax. ``dynamic`` makes batch, height and width symbolic.

    The file is exported next to ``path`` under a temporary name, checked against PyTorch (with ``verify``: an
    `ExportMismatch` when its ``seg`` differs by more than ``tolerance``, relative; `verify_onnx`'s errors are
    put in ``verification`` when given), given the recipe's metadata (``config``, default ``model.config``; see
    `humanparse.inference.metadata`) and only then renamed to ``path``: a failure leaves no file.
    """
    check_opset(opset)
    onnx = require("onnx", "ONNX export")
    if verify:
        require("onnxruntime", "verifying an ONNX export")
    path = Path(path)
    config = config if config is not None else getattr(model, "config", None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_files(path)  # left by an export killed outright
        temporary = str(temporary_file(path, ".onnx"))
    except OSError as failure:
        raise ConfigError(f"cannot write {path}: {write_failure(failure)}") from failure
    try:
        _export_to(model, temporary, input_size, dynamic, opset, with_argmax)
        if verify:
            errors = verify_onnx(
                model, temporary, verification_sizes(input_size, dynamic), with_argmax=with_argmax
            )
            if errors["seg"] > tolerance:
                raise ExportMismatch(
                    f"{path}: onnxruntime's seg differs from PyTorch's by {errors['seg']:.2e} (relative, "
                    f"tolerance {tolerance:.0e}); nothing written"
                )
            if verification is not None:
                verification.update(errors)
        if config is not None:
            from humanparse.inference.metadata import add_onnx_metadata

            proto = onnx.load(temporary)
            add_onnx_metadata(proto, config)
            onnx.save(proto, temporary)
        os.replace(temporary, path)
    except (OSError, RuntimeError) as failure:
        if isinstance(failure, ExportMismatch) or not _is_write_failure(failure):
            raise
        raise ConfigError(f"cannot write {path}: {write_failure(failure)}") from failure
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _is_write_failure(failure: BaseException) -> bool:
    """Whether an exception of the export is the file system's (full disk, read-only) rather than the model's."""
    if isinstance(failure, OSError):
        return True
    return write_failure(failure) != (str(failure).splitlines() or [type(failure).__name__])[0]


def _export_to(
    model: nn.Module, path: str, input_size: Tuple[int, int], dynamic: bool, opset: int, with_argmax: bool
) -> None:
    wrapper = _SegmentationOutputs(exportable_copy(model), with_argmax, _align_corners(model)).eval()
    output_names = ["seg", "labels"] if with_argmax else ["seg"]
    dynamic_axes = None
    if dynamic:
        dynamic_axes = {
            INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
            "seg": {0: "batch", 2: "seg_height", 3: "seg_width"},
        }
        if with_argmax:
            dynamic_axes["labels"] = {0: "batch", 1: "height", 2: "width"}
    example = torch.randn(1, 3, *input_size)
    # the tracer warns about sizes read as Python numbers; verify_onnx checks the dynamic export instead
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _export(
            wrapper,
            (example,),
            path,
            opset,
            dynamo=False,  # the dynamo exporter needs onnxscript, which the toolbox does not depend on
            input_names=[INPUT_NAME],
            output_names=output_names,
            dynamic_axes=dynamic_axes,
        )


def _export(wrapper: nn.Module, args: Tuple[torch.Tensor], path: str, opset_version: int, **kwargs) -> None:
    try:
        torch.onnx.export(wrapper, args, path, opset_version=opset_version, **kwargs)
    except torch.onnx.errors.UnsupportedOperatorError as error:
        # e.g. CSENet's grid_sample below opset 16; torch's message names the opset that supports it
        raise ConfigError(f"cannot export to ONNX opset {opset_version}: {error}") from error


def verification_sizes(input_size: Tuple[int, int], dynamic: bool) -> List[Tuple[int, int]]:
    """The export size, and for a dynamic export a second, different one."""
    sizes = [tuple(input_size)]
    if dynamic:
        height, width = input_size
        sizes.append((height + 32, max(33, width - 32)))
    return sizes


def verify_onnx(
    model: nn.Module,
    path: Union[str, Path],
    sizes: Sequence[Tuple[int, int]],
    batch: int = 1,
    with_argmax: bool = False,
    seed: int = 0,
) -> Dict[str, float]:
    """Run the ONNX file with onnxruntime on random inputs of each size and compare with PyTorch.

    Returns the worst ``seg`` relative error ||onnx - torch|| / ||torch|| and, with ``with_argmax``, the worst
    fraction of ``labels`` that disagree.
    """
    onnxruntime = require("onnxruntime", "verifying an ONNX export")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    worst = {"seg": 0.0, **({"labels": 0.0} if with_argmax else {})}
    model = model.eval()
    for size in sizes:
        image = torch.randn(batch, 3, *size, generator=generator)
        with torch.no_grad():
            expected = model(image)["seg"]
        outputs = session.run(None, {INPUT_NAME: image.numpy()})
        if outputs[0].shape != tuple(expected.shape):
            raise RuntimeError(
                f"{path}: onnxruntime's seg has shape {outputs[0].shape}, PyTorch's {tuple(expected.shape)}"
            )
        error = float(np.linalg.norm(outputs[0] - expected.numpy()) / np.linalg.norm(expected.numpy()))
        worst["seg"] = max(worst["seg"], error)
        if with_argmax:
            full = F.interpolate(expected, size=size, mode="bilinear", align_corners=_align_corners(model))
            worst["labels"] = max(worst["labels"], float((outputs[1] != full.argmax(1).numpy()).mean()))
    return worst


def _align_corners(model: nn.Module) -> bool:
    config = getattr(model, "config", None)
    return bool(config.train.align_corners) if config is not None else False
