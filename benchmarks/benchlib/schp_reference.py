"""SCHP's own `simple_extractor.py` pipeline on the CPU, from a clone of GoGoDuck912/Self-Correction-Human-Parsing.

Nothing of the reference is copied here: its modules are imported from the clone at run time. Its InPlace-ABN
is a CUDA/C++ extension; a module named ``modules`` is registered first with a pure-PyTorch stand-in of the same
formula and parameters: ``(x - mean) * (rsqrt(var + eps) * (|w| + eps)) + b``, then its activation.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchlib.references import ReferenceUnavailable


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
