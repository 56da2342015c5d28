"""The training loop: SGD with a per-iteration poly schedule, DDP, AMP, mixup, checkpoints, logs and plots.

One process, or one per device under torchrun. Rank 0 writes everything in the work dir:
`config.yaml`, `epoch_{E}.pth` + `latest.json` (+ `best.pth`), `log.jsonl` (one JSON object per iteration and per
evaluation), `train.log` (plain text), `loss.png`, `lr.png`, `val_miou.png` and, when tensorboard is installed,
`tensorboard/`.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler
from tqdm import tqdm

from humanparse.configs import Config
from humanparse.data.datasets import build_dataset
from humanparse.data.transforms import mix_batch
from humanparse.engine import checkpoint as ckpt
from humanparse.engine import distributed as dist_utils
from humanparse.engine.evaluator import evaluate
from humanparse.engine.plots import plot_training_curves
from humanparse.errors import ConfigError, DataError, HumanParseError
from humanparse.losses import build_loss
from humanparse.losses.cdg import mixup_loss
from humanparse.models.builder import build_model
from humanparse.models.checkpoint_io import checkpoint_dict
from humanparse.progress import progress_bar

# Everything a run writes; --overwrite deletes only these, never other files a user keeps in the folder.
RUN_FILES = ("config.yaml", "log.jsonl", "train.log", ckpt.LATEST_POINTER, ckpt.BEST_NAME, "loss.png", "lr.png",
             "val_miou.png")  # fmt: skip
RUN_GLOBS = ("epoch_*.pth", ".*.tmp", "tensorboard")
# Config keys that may change between a run and its resumption.
RESUMABLE_CHANGES = {"data.root", "data.num_workers", "train.epochs", "train.eval_interval"}


class TrainingDiverged(HumanParseError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


def poly_lr(
    base_lr: float, iteration: int, max_iterations: int, power: float = 0.9, min_lr: float = 0.0
) -> float:
    """SSSegmentation's PolyScheduler: `(base - min_lr) * (1 - it / max_it) ** power + min_lr`, it from 0."""
    return (base_lr - min_lr) * (1.0 - iteration / max_iterations) ** power + min_lr


def prepare_work_dir(
    work_dir: Union[str, Path], *, resume: bool, overwrite: bool, is_main: bool = True
) -> Path:
    """Check that `work_dir` may be used, and with --overwrite delete the files of the previous run (rank 0 only).

    A new run refuses a folder that already holds files, so that no earlier run is lost by accident.
    """
    work_dir = Path(work_dir)
    if work_dir.exists() and not work_dir.is_dir():
        raise ConfigError(f"work dir {work_dir} exists and is not a folder")
    existing = sorted(p.name for p in work_dir.iterdir()) if work_dir.is_dir() else []
    if existing and not (resume or overwrite):
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise ConfigError(
            f"work dir {work_dir} is not empty ({shown}); pass --resume to continue the run it holds, "
            "--overwrite to start again in it, or choose another --work-dir"
        )
    if overwrite and not resume and is_main and work_dir.is_dir():
        for name in RUN_FILES:
            (work_dir / name).unlink(missing_ok=True)
        for pattern in RUN_GLOBS:
            for path in work_dir.glob(pattern):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    if is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir


def _flatten(data: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    flat: Dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "published":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_resumable(config: Config, saved: Dict[str, Any], path: Path) -> None:
    """ConfigError when `config` differs from the checkpoint's config in more than RESUMABLE_CHANGES."""
    now, then = _flatten(config.to_dict()), _flatten(saved)
    differences = sorted(
        key for key in set(now) | set(then) if key not in RESUMABLE_CHANGES and now.get(key) != then.get(key)
    )
    if differences:
        details = "; ".join(f"{key}: {then.get(key)!r} -> {now.get(key)!r}" for key in differences[:8])
        raise ConfigError(
            f"cannot resume from {path}: the config differs from the one it was trained with ({details}); "
            "only " + ", ".join(sorted(RESUMABLE_CHANGES)) + " may change"
        )


class _TextLog:
    """Plain-text `train.log`: one timestamped line per message, flushed at once (so a killed run keeps it)."""

    def __init__(self, path: Optional[Path]) -> None:
        self._stream = path.open("a") if path is not None else None

    def write(self, message: str) -> None:
        if self._stream is not None:
            self._stream.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")
            self._stream.flush()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


class _JsonLog:
    """`log.jsonl`: one JSON object per line; on resume, the lines after the checkpoint are dropped."""

    def __init__(self, path: Optional[Path], keep_until_iteration: Optional[int]) -> None:
        self.path = path
        if path is None:
            self._stream = None
            return
        if keep_until_iteration is not None and path.is_file():
            kept = [line for line in path.read_text().splitlines() if _keep(line, keep_until_iteration)]
            path.write_text("".join(line + "\n" for line in kept))
        elif keep_until_iteration is None:
            path.write_text("")
        self._stream = path.open("a")

    def write(self, record: Dict[str, Any]) -> None:
        if self._stream is not None:
            self._stream.write(json.dumps(record) + "\n")
            self._stream.flush()

    def records(self) -> List[Dict[str, Any]]:
        if self.path is None or not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _keep(line: str, until_iteration: int) -> bool:
    try:
        return json.loads(line).get("iteration", 0) <= until_iteration
    except ValueError:  # a line cut short when the run was killed
        return False


def _tensorboard_writer(path: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional (`pip install humanparse[tensorboard]`)
        return None
    return SummaryWriter(str(path))


def _seed_worker(worker_id: int) -> None:
    """DataLoader worker_init_fn: a numpy Generator for the transforms, seeded from the loader's generator."""
    info = torch.utils.data.get_worker_info()
    seed = torch.initial_seed()  # base_seed (drawn from the loader's generator) + worker_id
    _give_rng(info.dataset, seed, getattr(info.dataset, "_humanparse_rank", 0))


def _give_rng(dataset: Dataset, seed: int, rank: int) -> None:
    sequence = np.random.SeedSequence([seed % 2**63, rank])
    random.seed(int(sequence.generate_state(1)[0]))
    np.random.seed(int(sequence.generate_state(1)[0]))
    generator = np.random.default_rng(sequence)
    if hasattr(dataset, "set_rng"):
        dataset.set_rng(generator)
    else:
        dataset.rng = generator


class Trainer:
    """Trains `config`'s model on its dataset; `fit()` runs the whole schedule and returns a summary.

    Args:
        config: the recipe; `config.data.root` must point at the dataset.
        work_dir: where checkpoints, logs and plots go.
        device: "cpu" or "cuda" (under torchrun each process takes cuda:LOCAL_RANK).
        resume: continue from `work_dir/latest.json`'s checkpoint (a fresh start when there is none).
        overwrite: reuse a non-empty work dir, deleting the previous run's files.
        progress: show a tqdm bar.
        keep_checkpoints: how many `epoch_*.pth` files to keep (the best one is kept as `best.pth` as well).
        log_interval: iterations between `train.log` lines (log.jsonl gets every iteration).
    """

    def __init__(
        self,
        config: Config,
        work_dir: Union[str, Path],
        *,
        device: str = "cpu",
        resume: bool = False,
        overwrite: bool = False,
        progress: bool = True,
        keep_checkpoints: int = 3,
        log_interval: int = 20,
    ) -> None:
        self.config = config
        self.context = dist_utils.init_distributed(device)
        self.device = self.context.device
        self.is_main = self.context.is_main
        self.progress = progress and self.is_main
        self.keep_checkpoints = max(1, keep_checkpoints)
        self.log_interval = max(1, log_interval)
        self.work_dir = prepare_work_dir(work_dir, resume=resume, overwrite=overwrite, is_main=self.is_main)
        dist_utils.barrier()
        self.resume_from = ckpt.latest_checkpoint(self.work_dir) if resume else None
        self.use_amp = bool(config.train.amp) and self.device.type == "cuda"
        self.channels_last = self.device.type == "cuda"
        self.model: nn.Module
        self.epoch = 0  # epochs completed
        self.iteration = 0  # iterations completed
        self.history: List[Dict[str, Any]] = []
        self.best_miou = -math.inf
        self._val_dataset: Optional[Dataset] = None

    # ---------------------------------------------------------------- set-up
    def _build(self) -> None:
        config, context = self.config, self.context
        seed = config.train.seed
        # the same seed on every rank: identical initial weights, dropout streams and mixup decisions
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # SSSegmentation's runtime setting

        per_rank_batch = config.train.batch_size // context.world_size
        if per_rank_batch < 1 or config.train.batch_size % context.world_size:
            raise ConfigError(
                f"train.batch_size {config.train.batch_size} is the total over all processes and must be a "
                f"multiple of the world size {context.world_size}"
            )
        self.train_dataset = build_dataset(config, config.data.train_split, train=True)
        self.train_dataset._humanparse_rank = context.rank  # read by the worker_init_fn
        self.loader_generator = torch.Generator().manual_seed(seed)
        if context.world_size > 1:
            sampler = DistributedSampler(
                self.train_dataset,
                num_replicas=context.world_size,
                rank=context.rank,
                shuffle=True,
                seed=seed,
            )
        else:
            sampler = RandomSampler(self.train_dataset, generator=self.loader_generator)
        self.sampler = sampler
        self.train_loader = DataLoader(
            self.train_dataset,
            batch_size=per_rank_batch,
            sampler=sampler,
            num_workers=config.data.num_workers,
            pin_memory=self.device.type == "cuda",
            drop_last=config.train.drop_last,
            worker_init_fn=_seed_worker,
            generator=self.loader_generator,
        )
        if len(self.train_loader) == 0:
            raise DataError(
                f"the {config.data.train_split!r} split under {config.data.root} has {len(self.train_dataset)} "
                f"images, fewer than one batch of {per_rank_batch} per process (drop_last is on)"
            )
        self.max_iterations = config.train.epochs * len(self.train_loader)

        model = build_model(config).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(
            model.parameters(),  # one group: weight decay on every parameter, BN and biases included
            lr=config.train.lr,
            momentum=config.train.momentum,
            weight_decay=config.train.weight_decay,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.loss_fn = build_loss(config)
        self.mixup_random = random.Random(seed)  # CSENet draws the mixup decision from Python's RNG
        self.mixup_generator = torch.Generator().manual_seed(seed + 1)
        if self.resume_from is not None:
            self._restore(model)
        if context.world_size > 1:
            if config.model.sync_bn and self.device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            elif config.model.sync_bn:
                # torch's SyncBatchNorm runs on GPUs only; on CPU each process keeps its own batch statistics
                self._note("SyncBatchNorm needs CUDA; on the CPU each process normalises with its own batch")
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            model = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
        self.model = model

    def _generators(self) -> Dict[str, torch.Generator]:
        return {"loader": self.loader_generator, "mixup": self.mixup_generator}

    def _restore(self, model: nn.Module) -> None:
        state = ckpt.load_training_state(self.resume_from)
        check_resumable(self.config, state["config"], self.resume_from)
        model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "grad_scaler" in state and self.use_amp:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.history = list(state.get("history", []))
        self.best_miou = max(
            [h["mIoU"] for h in self.history if h.get("mIoU") is not None], default=-math.inf
        )
        rng = state["rng"]
        ranks = rng["ranks"]
        if len(ranks) != self.context.world_size:
            self._note(f"the checkpoint was written by {len(ranks)} process(es), this run has "
                       f"{self.context.world_size}: random streams continue from rank 0's")  # fmt: skip
        restore = ranks[self.context.rank] if len(ranks) == self.context.world_size else ranks[0]
        ckpt.restore_rng_state(restore["global"], self._generators())
        self.mixup_random.setstate(_python_state(restore["mixup_random"]))

    def _note(self, message: str) -> None:
        if self.is_main:
            print(f"humanparse train: {message}")
            if hasattr(self, "text_log"):
                self.text_log.write(message)

    # ---------------------------------------------------------------- the run
    def fit(self) -> Dict[str, Any]:
        """Train for the remaining epochs; returns {"epochs", "iterations", "history", "best_mIoU", "work_dir"}."""
        main = self.is_main
        self.text_log = _TextLog(self.work_dir / "train.log" if main else None)
        self.json_log = _JsonLog(
            self.work_dir / "log.jsonl" if main else None,
            keep_until_iteration=self.iteration_from_pointer() if self.resume_from is not None else None,
        )
        self.tensorboard = _tensorboard_writer(self.work_dir / "tensorboard") if main else None
        try:
            self._build()
            if main:
                (self.work_dir / "config.yaml").write_text(self.config.to_yaml())
                start = (
                    f"resuming from {self.resume_from.name} (epoch {self.epoch})"
                    if self.resume_from
                    else "start"
                )
                self.text_log.write(
                    f"{start}: {self.config.name}, {self.context.world_size} process(es) on {self.device}, "
                    f"{len(self.train_dataset)} training images, {len(self.train_loader)} iterations per epoch, "
                    f"{self.max_iterations} in all"
                )
            bar = self._progress_bar()
            try:
                while self.epoch < self.config.train.epochs:
                    self._train_epoch(bar)
                    self._end_epoch()
            finally:
                if bar is not None:
                    bar.close()
            if main:
                self._plot()
                self.text_log.write(f"done: {self.epoch} epochs, {self.iteration} iterations")
        finally:
            self.text_log.close()
            self.json_log.close()
            if self.tensorboard is not None:
                self.tensorboard.close()
        return {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "history": self.history,
            "best_mIoU": None if self.best_miou == -math.inf else self.best_miou,
            "work_dir": str(self.work_dir),
        }

    def iteration_from_pointer(self) -> int:
        """The iteration count the resumed checkpoint ends at (read from its `latest.json` pointer)."""
        pointer = json.loads((self.work_dir / ckpt.LATEST_POINTER).read_text())
        return int(pointer["iteration"])

    def _progress_bar(self):
        if not self.progress:
            return None
        return progress_bar(total=self.max_iterations, initial=self.iteration, unit="it")

    def _train_epoch(self, bar) -> None:
        config = self.config
        epoch = self.epoch + 1
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        if config.data.num_workers == 0:
            # no worker_init_fn in the main process: seed the transforms from the loader's generator instead
            seed = int(torch.randint(0, 2**62, (1,), generator=self.loader_generator).item())
            _give_rng(self.train_dataset, seed, self.context.rank)
        self.model.train()
        sums: Dict[str, float] = {}
        count = 0
        if bar is not None:
            bar.set_description(f"epoch {epoch}/{config.train.epochs}")
        for batch in self.train_loader:
            record = self._train_iteration(batch, epoch)
            for key, value in record.items():
                if key.startswith("loss"):
                    sums[key] = sums.get(key, 0.0) + value
            count += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
        self.epoch = epoch
        self.history.append(
            {"epoch": epoch, "iteration": self.iteration, **{k: v / count for k, v in sums.items()}}
        )

    def _train_iteration(self, batch: Dict[str, Any], epoch: int) -> Dict[str, Any]:
        config = self.config
        lr = poly_lr(
            config.train.lr, self.iteration, self.max_iterations, config.train.poly_power, config.train.min_lr
        )
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = {
            k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
        }
        # `<=` as tjpulkl/BSSGNet train.py draws it
        use_mixup = config.train.mixup_prob > 0 and self.mixup_random.random() <= config.train.mixup_prob
        losses = self._forward_backward(batch, use_mixup)
        reduced = dist_utils.all_reduce_mean(torch.stack([v.detach().float() for v in losses.values()]))
        values = dict(zip(losses, reduced.tolist()))
        if dist_utils.any_process(not all(math.isfinite(v) for v in values.values()), self.device):
            self._diverged(epoch, values)
        self._step()
        self.iteration += 1
        record = {"type": "train", "epoch": epoch, "iteration": self.iteration, "lr": lr, **values}
        if use_mixup:
            record["mixup"] = True
        self._log_iteration(record)
        return record

    def _forward_backward(self, batch: Dict[str, Any], use_mixup: bool) -> Dict[str, torch.Tensor]:
        config = self.config
        images = batch["image"]
        if use_mixup:
            batch, batch_perm = mix_batch(batch, config.train.mixup_lambda, self.mixup_generator)
            images = batch["image"]
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
            outputs = self.model(images)
            if use_mixup:
                losses = mixup_loss(self.loss_fn, outputs, batch, batch_perm, config.train.mixup_lambda)
            else:
                losses = self.loss_fn(outputs, batch)
        self.optimizer.zero_grad(set_to_none=True)
        # backward runs even for a non-finite loss so that every DDP process joins the gradient all-reduce;
        # the caller then stops before the optimizer step, so the weights never see that gradient
        self.scaler.scale(losses["loss"]).backward()
        return losses

    def _step(self) -> None:
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def _diverged(self, epoch: int, values: Dict[str, float]) -> None:
        terms = ", ".join(f"{k}={v}" for k, v in values.items())
        latest = ckpt.latest_checkpoint(self.work_dir)
        kept = f"the last good checkpoint is {latest}" if latest else "no checkpoint had been written yet"
        message = (
            f"the loss is not finite at epoch {epoch}, iteration {self.iteration + 1} ({terms}); training "
            f"stopped without updating the weights and {kept}. Try a lower train.lr or check the data"
        )
        if self.is_main:
            self.json_log.write(
                {"type": "error", "epoch": epoch, "iteration": self.iteration + 1, "message": message}
            )
            self.text_log.write(message)
        raise TrainingDiverged(message)

    def _log_iteration(self, record: Dict[str, Any]) -> None:
        if not self.is_main:
            return
        self.json_log.write(record)
        if self.tensorboard is not None:
            for key, value in record.items():
                if key.startswith("loss") or key == "lr":
                    self.tensorboard.add_scalar(f"train/{key}", value, self.iteration)
        if self.iteration % self.log_interval == 0 or self.iteration == self.max_iterations:
            terms = " ".join(f"{k}={v:.4f}" for k, v in record.items() if k.startswith("loss"))
            self.text_log.write(
                f"epoch {record['epoch']}/{self.config.train.epochs} iteration {self.iteration}/"
                f"{self.max_iterations} lr={record['lr']:.6g} {terms}"
            )

    # ---------------------------------------------------------------- end of an epoch
    def _end_epoch(self) -> None:
        config = self.config
        interval = config.train.eval_interval
        improved = False
        if self.epoch == config.train.epochs or (interval > 0 and self.epoch % interval == 0):
            improved = self._evaluate()
        self._save(improved)
        if self.is_main:
            self.text_log.write(
                f"epoch {self.epoch}/{config.train.epochs} done: mean loss {self.history[-1].get('loss', float('nan')):.4f}"
            )
            if improved or self.epoch == config.train.epochs:
                self._plot()

    def _evaluate(self) -> bool:
        if self._val_dataset is None:
            self._val_dataset = build_dataset(self.config, self.config.data.val_split, train=False)
        metrics = evaluate(
            dist_utils.unwrap_model(self.model),
            self.config,
            self._val_dataset,
            device=str(self.device),
            progress=self.progress,
        )
        self.model.train()
        miou = float(metrics["mIoU"])
        summary = {key: metrics[key] for key in ("mIoU", "pixel_acc", "mean_acc", "fwIoU") if key in metrics}
        self.history[-1].update(summary)
        improved = miou > self.best_miou
        self.best_miou = max(self.best_miou, miou)
        if self.is_main:
            record = {"type": "eval", "epoch": self.epoch, "iteration": self.iteration, **summary,
                      "per_class_iou": metrics.get("per_class_iou")}  # fmt: skip
            self.json_log.write(_json_safe(record))
            if self.tensorboard is not None:
                for key, value in summary.items():
                    self.tensorboard.add_scalar(f"val/{key}", value, self.epoch)
            message = f"validation after epoch {self.epoch}: mIoU {100 * miou:.2f}%"
            self.text_log.write(
                message
                + (f", pixel accuracy {100 * summary['pixel_acc']:.2f}%" if "pixel_acc" in summary else "")
            )
            if self.progress:
                tqdm.write(message)
        return improved

    def _save(self, improved: bool) -> None:
        rng_state = {
            "global": ckpt.capture_rng_state(self._generators()),
            "mixup_random": _plain_python_state(self.mixup_random.getstate()),
        }
        ranks = [rng_state]
        if dist_utils.is_distributed():
            ranks = [None] * self.context.world_size
            torch.distributed.all_gather_object(ranks, rng_state)
        if self.is_main:
            state = checkpoint_dict(
                self.model,
                self.config,
                optimizer=self.optimizer.state_dict(),
                epoch=self.epoch,
                iteration=self.iteration,
                rng={"ranks": ranks},
                history=self.history,
            )
            if self.use_amp:
                state["grad_scaler"] = self.scaler.state_dict()
            path = ckpt.save_checkpoint(state, self.work_dir, self.epoch)
            if improved:
                ckpt.atomic_copy(path, self.work_dir / ckpt.BEST_NAME)
            ckpt.prune_checkpoints(self.work_dir, self.keep_checkpoints)
            self.text_log.write(
                f"saved {path.name}" + (f" (best so far, copied to {ckpt.BEST_NAME})" if improved else "")
            )
        dist_utils.barrier()

    def _plot(self) -> None:
        plot_training_curves(self.json_log.records(), self.work_dir)


def _plain_python_state(state) -> List[Any]:
    return [state[0], list(state[1]), state[2]]


def _python_state(saved) -> tuple:
    return (saved[0], tuple(saved[1]), saved[2])


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return _json_safe(value.item())
    return value


def train(config: Config, work_dir: Union[str, Path], **options: Any) -> Dict[str, Any]:
    """Build a Trainer (same keyword options) and run it; returns the summary of `Trainer.fit`."""
    return Trainer(config, work_dir, **options).fit()
