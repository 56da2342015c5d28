"""Cost of test-time augmentation: multi-scale + flip prediction against the sum of its forward passes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import torch

from benchlib.measure import Settings, check_settings, median, time_calls
from benchlib.targets import TTA_MAX_RATIO


@dataclass
class TTACost:
    """Multi-scale (+ flip) prediction of one image against the sum of its forward passes run one by one."""

    config: str
    scales: Tuple[float, ...]
    flip: bool
    tta_ms: float
    passes_ms: float

    @property
    def ratio(self) -> float:
        return self.tta_ms / self.passes_ms

    @property
    def verdict(self) -> str:
        return "PASS" if self.ratio <= TTA_MAX_RATIO else "MISS"

    def __str__(self) -> str:
        passes = len(self.scales) * (2 if self.flip else 1)
        scales = "/".join(f"{s:g}" for s in self.scales)
        return (
            f"{self.config}: scales {scales}{' + flip' if self.flip else ''}: prediction {self.tta_ms:.0f} ms, "
            f"its {passes} forward passes one by one {self.passes_ms:.0f} ms, ratio {self.ratio:.2f} "
            f"(target <= {TTA_MAX_RATIO:.2f}): {self.verdict}"
        )


def tta_cost(
    config_name: str,
    settings: Settings,
    scales: Sequence[float] = (0.75, 1.0, 1.25),
    flip: bool = True,
) -> TTACost:
    """Time `Predictor` with `scales` and `flip` on one random photo against its forward passes one at a time."""
    import math

    import numpy as np
    import torch.nn.functional as F

    from humanparse.configs import get_config
    from humanparse.inference.predictor import Predictor
    from humanparse.models.builder import build_model

    device = check_settings(settings)
    config = get_config(config_name)
    model = build_model(config).eval()
    predictor = Predictor(
        config, model=model, device=str(device), scales=scales, flip=flip, precision=settings.precision
    )
    photo = np.random.default_rng(0).integers(
        0, 256, (settings.size, settings.size * 3 // 4, 3), dtype=np.uint8
    )
    images = predictor.transform(photo)["image"][None].to(device)
    height, width = images.shape[-2:]
    scaled = [
        F.interpolate(
            images,
            size=(math.floor(height * s), math.floor(width * s)),
            mode="bilinear",
            align_corners=config.eval.protocol == "affine",
        )
        for s in scales
    ]

    def passes() -> None:
        with torch.inference_mode():
            for batch in scaled:
                for _ in range(2 if flip else 1):
                    predictor.tta.forward(batch)

    times = time_calls(
        {"tta": lambda: predictor.predict_batch([photo]), "passes": passes},
        settings.repeats,
        settings.warmup,
        device,
    )
    return TTACost(
        config_name, tuple(scales), flip, 1000 * median(times["tta"]), 1000 * median(times["passes"])
    )
