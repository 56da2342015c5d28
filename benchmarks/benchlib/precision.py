"""Reduced precision (bf16/fp16) against fp32 on a trained model's validation images."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from benchlib.targets import BF16_MAX_RELATIVE_ERROR, BF16_MIN_ARGMAX_AGREEMENT
from humanparse.errors import ConfigError


@dataclass
class PrecisionAgreement:
    """Reduced precision against fp32 on a trained model's validation images (labels at original size)."""

    config: str
    precision: str
    images: int
    argmax_agreement: float
    relative_error: float

    @property
    def verdict(self) -> str:
        ok = (
            self.argmax_agreement >= BF16_MIN_ARGMAX_AGREEMENT
            and self.relative_error <= BF16_MAX_RELATIVE_ERROR
        )
        return "PASS" if ok else "MISS"

    def __str__(self) -> str:
        return (
            f"{self.config} {self.precision} vs fp32 on {self.images} validation images: argmax agreement "
            f"{100 * self.argmax_agreement:.2f}% (target >= {100 * BF16_MIN_ARGMAX_AGREEMENT:.1f}%), logits "
            f"relative error {self.relative_error:.1e} (target <= {BF16_MAX_RELATIVE_ERROR:.0e}): {self.verdict}"
        )


def precision_agreement(
    checkpoint: str, data_root: str, precision: str = "bf16", device: str = "cpu", limit: int = 20
) -> PrecisionAgreement:
    """Compare `precision` with fp32 for a humanparse checkpoint (its own config) on up to `limit` val images."""
    from humanparse.configs import Config
    from humanparse.data.datasets import build_dataset
    from humanparse.inference.predictor import Predictor
    from humanparse.models.checkpoint_io import read_checkpoint
    from humanparse.models.weights import load_for_inference

    state = read_checkpoint(checkpoint)
    if not isinstance(state, dict) or not state.get("config"):
        raise ConfigError(f"{checkpoint}: not a humanparse checkpoint with its config (train or convert one)")
    config = Config.from_dict(state["config"])
    config.data.root = data_root
    model = load_for_inference(config, checkpoint, device)
    full = Predictor(config, model=model, device=device)
    reduced = Predictor(config, model=model, device=device, precision=precision)
    dataset = build_dataset(config, config.data.val_split, train=False)
    agree = total = 0
    squared_error = squared_norm = 0.0
    count = min(limit, len(dataset))
    for index in range(count):
        image, _ = dataset.read(index)
        reference = torch.from_numpy(full.predict_logits(image)).double()
        logits = torch.from_numpy(reduced.predict_logits(image)).double()
        agree += int((logits.argmax(0) == reference.argmax(0)).sum())
        total += reference[0].numel()
        squared_error += float((logits - reference).pow(2).sum())
        squared_norm += float(reference.pow(2).sum())
    return PrecisionAgreement(
        config.name,
        precision,
        count,
        agree / max(total, 1),
        (squared_error / max(squared_norm, 1e-30)) ** 0.5,
    )
