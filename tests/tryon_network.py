"""The SCHP networks behind the try-on fixtures: humanparse's `schp_resnet101_{atr,lip}` architecture (deep stem,
InPlace-ABN semantics, PSP, edge and fusion heads) at a quarter of the width and one block per stage, with seeded
random weights and a fitted last layer, so that the parse maps have many classes in person-like shapes.

Shared by `scripts/make_tryon_fixtures.py` (which fits the last layers and writes the fixtures) and the tests (which
rebuild the same networks from the seed and the stored last layers, and check the random part is unchanged).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Dict, Tuple

import cv2
import numpy as np
import torch
from torch import nn

from humanparse import build_model
from humanparse.configs import Config, get_config

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tryon"
RECIPES = {"atr": "schp_resnet101_atr", "lip": "schp_resnet101_lip"}
SEEDS = {"atr": 2101, "lip": 2102}
WIDTH = 0.25
STAGE_BLOCKS = (1, 1, 1, 1)
_MEAN = np.array([0.406, 0.456, 0.485], np.float32)  # SCHP: BGR photos, these per-channel statistics
_STD = np.array([0.225, 0.224, 0.229], np.float32)


def small_config(kind: str) -> Config:
    """The recipe of `kind` ("atr" or "lip") at the fixtures' reduced width and depth."""
    config = get_config(RECIPES[kind])
    return replace(config, model=replace(config.model, width=WIDTH, stage_blocks=STAGE_BLOCKS))


def random_network(kind: str) -> nn.Module:
    """The seeded random network of `kind`, in eval mode."""
    torch.manual_seed(SEEDS[kind])
    return build_model(small_config(kind)).eval()


def fingerprint(model: nn.Module) -> float:
    """A float summarising every weight but the last layer's (detects a change in torch's seeded init)."""
    last = {"fushion.3.weight", "fushion.3.bias"}
    return float(sum(v.double().abs().sum() for k, v in model.state_dict().items() if k not in last))


def normalise(bgr: np.ndarray) -> torch.Tensor:
    """A BGR uint8 photo as SCHP's network input (1, 3, H, W)."""
    array = (bgr.astype(np.float32) / 255.0 - _MEAN) / _STD
    return torch.from_numpy(array.transpose(2, 0, 1).copy())[None]


def fit_last_layer(model: nn.Module, samples, num_classes: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Least-squares fit of the fusion head's last 1x1 convolution to one-hot labels (class-balanced)."""
    captured = []
    hook = model.fushion[3].register_forward_hook(lambda _m, inputs, _o: captured.append(inputs[0]))
    rows, targets, weights = [], [], []
    with torch.inference_mode():
        for image, label in samples:
            captured.clear()
            model(normalise(cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)))
            features = captured[0][0]  # (C, h, w)
            h, w = features.shape[1:]
            small = cv2.resize(label, (w, h), interpolation=cv2.INTER_NEAREST).reshape(-1)
            rows.append(features.reshape(features.shape[0], -1).T.numpy().astype(np.float64))
            targets.append(small)
    hook.remove()
    x = np.concatenate(rows)
    y = np.concatenate(targets)
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    weights = 1.0 / np.sqrt(np.maximum(counts[y], 1.0))
    x1 = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    onehot = np.eye(num_classes)[y]
    lhs = (x1 * weights[:, None]).T @ x1 + 1e-3 * np.eye(x1.shape[1])
    rhs = (x1 * weights[:, None]).T @ onehot
    solution = np.linalg.solve(lhs, rhs)  # (C + 1, K)
    return solution[:-1].T.astype(np.float32), solution[-1].astype(np.float32)


def set_last_layer(model: nn.Module, weight: np.ndarray, bias: np.ndarray) -> nn.Module:
    with torch.no_grad():
        model.fushion[3].weight.copy_(torch.from_numpy(weight)[:, :, None, None])
        model.fushion[3].bias.copy_(torch.from_numpy(bias))
    return model


def fixture_network(kind: str, heads: Dict[str, np.ndarray]) -> nn.Module:
    """The fixtures' network of `kind`, rebuilt; fails when torch's seeded init no longer gives the same one."""
    model = random_network(kind)
    expected = float(heads[f"{kind}_fingerprint"])
    actual = fingerprint(model)
    if abs(actual - expected) > 1e-6 * abs(expected):
        raise AssertionError(
            f"the seeded {kind} network changed ({actual} != {expected}); remake the fixtures"
        )
    return set_last_layer(model, heads[f"{kind}_weight"], heads[f"{kind}_bias"])


class OotdInterface(nn.Module):
    """The published `parsing_{atr,lip}.onnx` interface: outputs (parsing, fusion, edge) of input `input.1`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor):
        outputs = self.model(image)
        return outputs["seg_stage1"], outputs["seg"], outputs["edge"]


def export_ootd_onnx(model: nn.Module, path: Path, size: int) -> Path:
    """Write `model` as an ONNX file with OOTDiffusion's interface (static 1x3xSxS input, three outputs).

    SCHP's PSP pools a 32x32 map to 3x3 and 6x6 at 512, which torch's TorchScript exporter refuses; as humanparse's
    own export does, the pools become averaging matrices (`exportable_copy`).
    """
    from humanparse.deploy.export import exportable_copy

    wrapper = OotdInterface(exportable_copy(model)).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        wrapper,
        (torch.zeros(1, 3, size, size),),
        str(path),
        opset_version=11,
        dynamo=False,
        input_names=["input.1"],
    )
    return path


class TinyOotdInterface(nn.Module):
    """parsing: all zeros (argmax class 0); fusion: varied logits; edge: two channels."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        torch.manual_seed(classes)
        self.features = nn.Conv2d(3, 8, 3, stride=4, padding=1)
        self.fusion = nn.Conv2d(8, classes, 1)
        self.edge = nn.Conv2d(8, 2, 1)

    def forward(self, image):
        features = torch.relu(self.features(image))
        fusion = self.fusion(features)
        return fusion * 0.0, fusion, self.edge(features)


def tiny_onnx(path, classes=18, size=512):
    """A tiny ONNX file with OOTDiffusion's parsing interface (fast to make and run)."""
    torch.onnx.export(
        TinyOotdInterface(classes).eval(), (torch.zeros(1, 3, size, size),), str(path), input_names=["input.1"],
        opset_version=11, dynamo=False,
    )  # fmt: skip
    return path


# ------------------------------------------------------------------------------------ designed label maps
# A network that ignores its input and returns logits of a drawn person, so that every step of the parse map is
# exercised on known shapes: a shirt with a small hole (filled as upper clothes), one arm forming a large loop
# with the body (the hole kept) and one a small loop (filled), a face whose LIP face is shorter (the neck).
DESIGNED_SIZE = {"atr": 128, "lip": 119}  # SCHP's output size at 512 and 473


def designed_map(kind: str) -> np.ndarray:
    """The drawn label map of `kind` at its output size (ATR or LIP ids)."""
    size = DESIGNED_SIZE[kind]
    f = size / 128.0
    ids = (
        dict(hair=2, upper=4, pants=6, face=11, left_arm=14, right_arm=15, left_shoe=9, right_shoe=10, bag=16)
        if kind == "atr"
        else dict(
            hair=2, upper=5, pants=9, face=13, left_arm=14, right_arm=15, left_shoe=18, right_shoe=19, bag=0
        )
    )
    canvas = np.zeros((size, size), np.uint8)

    def pts(*points):
        return (np.array(points, np.float64) * f).round().astype(np.int32)

    cv2.ellipse(canvas, tuple(pts((64, 16))[0]), (int(12 * f), int(10 * f)), 0, 0, 360, ids["hair"], -1)
    face_height = 11 if kind == "atr" else 7  # ATR's face reaches further down: the neck
    cv2.ellipse(
        canvas, tuple(pts((64, 23))[0]), (int(9 * f), int(face_height * f)), 0, 0, 360, ids["face"], -1
    )
    cv2.fillPoly(canvas, [pts((44, 36), (84, 36), (84, 80), (44, 80))], ids["upper"])
    cv2.fillPoly(canvas, [pts((58, 50), (68, 50), (68, 58), (58, 58))], 0)  # a small hole in the shirt
    cv2.fillPoly(
        canvas, [pts((46, 80), (82, 80), (82, 116), (66, 116), (64, 92), (62, 116), (46, 116))], ids["pants"]
    )
    cv2.fillPoly(canvas, [pts((46, 116), (60, 116), (60, 122), (44, 122))], ids["right_shoe"])
    cv2.fillPoly(canvas, [pts((68, 116), (82, 116), (84, 122), (68, 122))], ids["left_shoe"])
    # the left arm (image right): out to the elbow and back to the hip, a large loop
    cv2.polylines(canvas, [pts((84, 38), (106, 58), (86, 78))], False, ids["left_arm"], max(1, int(6 * f)))
    # the right arm (image left): close along the body, a small loop
    cv2.polylines(canvas, [pts((44, 38), (40, 56), (44, 72))], False, ids["right_arm"], max(1, int(5 * f)))
    if ids["bag"]:
        cv2.fillPoly(canvas, [pts((20, 70), (32, 70), (32, 86), (20, 86))], ids["bag"])
    return canvas


DESIGNED_KEYPOINTS = [[0.0, 0.0]] * 18  # filled below in the 384x512 frame (logit u, v -> 4u - 64, 4v)
for _index, (_u, _v) in {
    2: (44, 38),
    3: (40, 56),
    4: (44, 72),
    5: (84, 38),
    6: (106, 58),
    7: (86, 78),
}.items():
    DESIGNED_KEYPOINTS = [
        point if i != _index else [4.0 * _u - 64.0, 4.0 * _v] for i, point in enumerate(DESIGNED_KEYPOINTS)
    ]


class DesignedNetwork(nn.Module):
    """OOTDiffusion's interface with fixed logits: one-hot of `designed_map(kind)` (times 10)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        classes = 18 if kind == "atr" else 20
        onehot = np.eye(classes, dtype=np.float32)[designed_map(kind)].transpose(2, 0, 1)[None] * 10.0
        self.register_buffer("logits", torch.from_numpy(onehot))

    def forward(self, image: torch.Tensor):
        fusion = self.logits + 0.0 * image.mean()
        return fusion * 0.0, fusion, fusion[:, :2]


def export_designed_onnx(kind: str, path: Path) -> Path:
    size = {"atr": 512, "lip": 473}[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        DesignedNetwork(kind).eval(), (torch.zeros(1, 3, size, size),), str(path), input_names=["input.1"],
        opset_version=11, dynamo=False,
    )  # fmt: skip
    return path
