"""SCHP's own `simple_extractor.py` on the CPU, from a clone of GoGoDuck912/Self-Correction-Human-Parsing.

Nothing of the reference is copied here: its modules are imported from the clone at run time. Its InPlace-ABN
is a CUDA/C++ extension; a module named ``modules`` is registered first with a pure-PyTorch stand-in:

* `build_simple_extractor` (in-process, per photo): the same formula and parameters,
  ``(x - mean) * (rsqrt(var + eps) * (|w| + eps)) + b``, then its activation;
* `install_stand_ins` (the script itself, run as a process by `simple_extractor_command`): BatchNorm2d then
  leaky ReLU, one fused kernel as InPlace-ABN's own, and torchvision's ToTensor/Normalize/Compose where
  torchvision is not installed.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchlib.references import ReferenceUnavailable, calibrate_batch_norms, install_torchvision_stand_in

BENCHMARKS = Path(__file__).resolve().parents[1]


class InPlaceABNStandIn(nn.Module):
    """Inference-mode InPlace-ABN(Sync): BatchNorm with |weight| + eps, then leaky_relu / elu / none."""

    def __init__(
        self, num_features, eps=1e-5, momentum=0.1, affine=True, activation="leaky_relu", slope=0.01
    ):
        super().__init__()
        self.eps, self.activation, self.slope = eps, activation, slope
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1)
        scale = torch.rsqrt(self.running_var + self.eps) * (self.weight.abs() + self.eps)
        x = (x - self.running_mean.view(shape)) * scale.view(shape) + self.bias.view(shape)
        if self.activation == "leaky_relu":
            return F.leaky_relu(x, self.slope)
        if self.activation == "elu":
            return F.elu(x)
        return x


def _register_stand_in() -> None:
    module = types.ModuleType("modules")
    module.InPlaceABN = module.InPlaceABNSync = module.ABN = InPlaceABNStandIn
    sys.modules["modules"] = module


def build_simple_extractor(repo: str, num_classes: int = 20) -> Tuple[nn.Module, Callable[[str], np.ndarray]]:
    """SCHP ResNet-101 (random weights) and `parse(path)`: simple_extractor.py's per-photo steps on the CPU
    (its dataset's affine crop, ToTensor + BGR Normalize, forward, align_corners upsample, transform_logits,
    argmax)."""
    root = Path(repo)
    if not (root / "simple_extractor.py").is_file():
        raise ReferenceUnavailable(f"--schp-repo {repo}: no simple_extractor.py there")
    _register_stand_in()
    sys.path.insert(0, str(root))
    try:
        import networks
        from datasets.simple_extractor_dataset import SimpleFolderDataset
        from utils.transforms import transform_logits
    except ImportError as error:
        raise ReferenceUnavailable(f"cannot import SCHP from {repo}: {error}") from error
    finally:
        sys.path.remove(str(root))
    model = networks.init_model("resnet101", num_classes=num_classes, pretrained=None).eval()
    input_size = [473, 473]
    mean = torch.tensor([0.406, 0.456, 0.485]).view(3, 1, 1)
    std = torch.tensor([0.225, 0.224, 0.229]).view(3, 1, 1)

    def transform(image: np.ndarray) -> torch.Tensor:  # torchvision ToTensor + Normalize, without torchvision
        return (torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255 - mean) / std

    def parse(path: str) -> np.ndarray:
        folder, name = str(Path(path).parent), Path(path).name
        dataset = SimpleFolderDataset(root=folder, input_size=input_size, transform=transform)
        dataset.file_list = [name]
        image, meta = dataset[0]
        with torch.no_grad():
            output = model(image.unsqueeze(0))
            upsample = F.interpolate(output[0][-1], size=input_size, mode="bilinear", align_corners=True)
            logits = upsample[0].permute(1, 2, 0).numpy()
        result = transform_logits(
            logits, meta["center"], meta["scale"], meta["width"], meta["height"], input_size=input_size
        )
        return np.argmax(result, axis=2)

    return model, parse


def our_schp_state(reference: nn.Module) -> Dict[str, Any]:
    """The reference's weights in our key space."""
    from humanparse.configs import get_config
    from humanparse.models.weights import converter_for

    return converter_for(get_config("schp_resnet101_lip").model.arch)(dict(reference.state_dict()))


# ---------------------------------------------------------------------------------------------------------------
# simple_extractor.py itself, as a process


class _ABNStandIn(nn.BatchNorm2d):
    """InPlace-ABN's arithmetic in eval mode, fused as its own kernel is: BatchNorm with the scale |w| + eps, then
    leaky ReLU 0.01 (or nothing with 'none')."""

    def __init__(self, num_features, activation="leaky_relu", slope=0.01, **kwargs):
        super().__init__(num_features, **{k: v for k, v in kwargs.items() if k in ("eps", "momentum")})
        self.activation, self.slope = activation, slope

    def forward(self, x):
        if self.training:  # setting the statistics (calibrate_batch_norms): plain BatchNorm
            x = super().forward(x)
        else:
            scale = self.weight.abs() + self.eps
            x = F.batch_norm(x, self.running_mean, self.running_var, scale, self.bias, False, 0.0, self.eps)
        return F.leaky_relu(x, self.slope) if self.activation == "leaky_relu" else x


def install_stand_ins() -> None:
    """Register the InPlace-ABN stand-in as `modules`, and torchvision's transforms where it is missing."""
    modules = types.ModuleType("modules")
    modules.InPlaceABNSync = modules.InPlaceABN = _ABNStandIn
    sys.modules["modules"] = modules

    install_torchvision_stand_in()


def simple_extractor_weights(
    repo: str, path: Path, seed: int = 0, images: Optional[torch.Tensor] = None
) -> Path:
    """Seeded random SCHP ResNet-101 weights in the reference's checkpoint layout (``module.`` keys under
    ``state_dict``); with `images`, random BatchNorm scales and the images' statistics (see
    `calibrate_batch_norms`), so that the label maps are not flat."""
    install_stand_ins()
    sys.path.insert(0, str(Path(repo).resolve()))
    import networks

    torch.manual_seed(seed)
    model = networks.init_model("resnet101", num_classes=20, pretrained=None).eval()
    if images is not None:
        calibrate_batch_norms(model, model, images, seed)
    # InPlace-ABN keeps no batch counter
    state = {f"module.{k}": v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    torch.save({"state_dict": state}, path)
    return path


# runs the clone's script as a user does (`python simple_extractor.py ...`), on the CPU with the stand-ins
SIMPLE_EXTRACTOR = """
import runpy, sys, torch
sys.path.insert(0, {benchmarks!r})
from benchlib.schp_reference import install_stand_ins
install_stand_ins()
{threads}
torch.Tensor.cuda = lambda self, *args, **kwargs: self
torch.nn.Module.cuda = lambda self, *args, **kwargs: self
sys.path.insert(0, {repo!r})
sys.argv = ["simple_extractor.py", "--dataset", "lip", "--model-restore", {weights!r}, "--gpu", "0",
            "--input-dir", {photos!r}, "--output-dir", {out!r}]
runpy.run_path({repo!r} + "/simple_extractor.py", run_name="__main__")
"""


def simple_extractor_command(
    repo: str, weights: Path, photos: Path, out: Path, threads: Optional[int] = None
) -> List[str]:
    """The command line that runs the clone's simple_extractor.py on a folder of photos (CPU, stand-ins)."""
    repo = str(Path(repo).resolve())
    if not os.path.isfile(os.path.join(repo, "simple_extractor.py")):
        raise ReferenceUnavailable(f"--schp-repo {repo}: no simple_extractor.py there")
    script = SIMPLE_EXTRACTOR.format(
        benchmarks=str(BENCHMARKS), repo=repo, weights=str(weights), photos=str(photos), out=str(out),
        threads=f"torch.set_num_threads({int(threads)})" if threads else "",
    )  # fmt: skip
    return [sys.executable, "-c", script]
