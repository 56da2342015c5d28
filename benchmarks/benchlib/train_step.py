"""Training step of our CE2P (+ CE2PLoss) against SSSegmentation 1.7.0's CE2P in TRAIN mode."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch

from benchlib.inference import cell
from benchlib.measure import Settings, check_settings, measured_speedup, median, time_calls
from benchlib.references import (
    ReferenceUnavailable,
    import_sssegmentation,
    our_weights_from_reference,
    reference_name,
    ssseg_ce2p_config,
)
from benchlib.targets import TRAIN_SPEEDUP_TARGET


@dataclass
class TrainRow:
    """One line of the training-step table."""

    config: str
    batch: int
    crop: int
    ours_ms: Optional[float] = None
    theirs_ms: Optional[float] = None
    ours_loss: Optional[float] = None
    theirs_loss: Optional[float] = None
    notes: List[str] = field(default_factory=list)

    @property
    def speedup(self) -> Optional[float]:
        return measured_speedup(self.ours_ms, self.theirs_ms)

    @property
    def verdict(self) -> str:
        if self.speedup is None:
            return "-"
        return "PASS" if self.speedup >= TRAIN_SPEEDUP_TARGET else "MISS"


def format_train_table(rows: Sequence[TrainRow]) -> str:
    """A Markdown table of training-step rows, then their notes."""
    header = "| config | batch x crop | ours ms | ref ms | speedup | ours loss | ref loss | target | result |"
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = [
            row.config,
            f"{row.batch} x {row.crop}",
            cell("ours_ms", row.ours_ms),
            cell("theirs_ms", row.theirs_ms),
            cell("speedup", row.speedup),
            "n/a" if row.ours_loss is None else f"{row.ours_loss:.4f}",
            "n/a" if row.theirs_loss is None else f"{row.theirs_loss:.4f}",
            f"{TRAIN_SPEEDUP_TARGET:.2f}x",
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- {row.config}: {note}" for row in rows for note in row.notes]
    return "\n".join(lines + ([""] + notes if notes else []))


def benchmark_train_step(config_name: str, settings: Settings, batch: int = 2, crop: int = 473) -> TrainRow:
    """Time forward + backward + SGD step of our CE2P with CE2PLoss against SSSegmentation's CE2P in TRAIN mode.

    Both start from the same weights and see the same images and targets (labels without ignored pixels, edges
    in {0, 1}), so the first step's losses should agree. SSSegmentation computes its own three cross-entropies
    (with its class-balanced edge weights) inside its forward; that is what it trains with.
    """
    from humanparse.configs import load_config
    from humanparse.losses import build_loss
    from humanparse.models.builder import build_model

    device = check_settings(settings)
    config = load_config(config_name)
    row = TrainRow(config=config_name, batch=batch, crop=crop)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, crop, crop, generator=generator).to(device)
    labels = torch.randint(0, config.model.num_classes, (batch, crop, crop), generator=generator).to(device)
    edges = (torch.rand(batch, crop, crop, generator=generator) < 0.1).long().to(device)

    model = build_model(config).to(device).train()
    criterion = build_loss(config)
    try:
        BuildSegmentor, SSSegInputStructure = import_sssegmentation()
        if reference_name(config_name) != "sssegmentation":
            raise ReferenceUnavailable("the training-step comparison is wired for ce2p_resnet* recipes only")
        theirs = BuildSegmentor(ssseg_ce2p_config(config_name, config.model.num_classes), mode="TRAIN")
        theirs = theirs.to(device).train()
        model.load_state_dict(our_weights_from_reference(config_name, theirs.state_dict()), strict=True)
    except ReferenceUnavailable as error:
        theirs = None
        row.notes.append(f"reference: {error}")

    def sgd(parameters) -> torch.optim.Optimizer:
        return torch.optim.SGD(parameters, lr=1e-3, momentum=0.9, weight_decay=5e-4)

    our_optimizer = sgd(model.parameters())
    losses: Dict[str, float] = {}

    def our_step() -> None:
        our_optimizer.zero_grad(set_to_none=True)
        loss = criterion(model(images), {"label": labels, "edge": edges})["loss"]
        loss.backward()
        our_optimizer.step()
        losses.setdefault("ours", float(loss.detach()))

    calls: Dict[str, Callable[[], Any]] = {"ours": our_step}
    if theirs is not None:
        their_optimizer = sgd(theirs.parameters())
        data = SSSegInputStructure(mode="TRAIN", images=images, seg_targets=labels, edge_targets=edges)

        def their_step() -> None:
            their_optimizer.zero_grad(set_to_none=True)
            with warnings.catch_warnings():  # SSSegmentation's loss warns about new_tensor on every call
                warnings.simplefilter("ignore", UserWarning)
                loss = theirs(data).loss
            loss.backward()
            their_optimizer.step()
            losses.setdefault("theirs", float(loss.detach()))

        calls["theirs"] = their_step
    # the first step (the warm-up) runs from identical weights, so its losses are comparable
    times = time_calls(calls, repeats=settings.repeats, warmup=max(1, settings.warmup), device=device)
    row.ours_ms = 1000 * median(times["ours"])
    row.ours_loss = losses.get("ours")
    if theirs is not None:
        row.theirs_ms = 1000 * median(times["theirs"])
        row.theirs_loss = losses.get("theirs")
    return row
