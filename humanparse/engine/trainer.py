"""The training loop: the recipe's optimizer (SGD, or AdamW with parameter groups) with a per-iteration
warm-up + poly schedule (engine/optim.py), DDP, AMP, the recipe's batch augmentation,
checkpoints, logs and plots. It reads top to bottom: `Trainer.fit` -> `setup` -> `train_one_epoch` ->
`evaluate` -> `save`.

One process, or one per device under torchrun. Rank 0 writes everything in the work dir:
`config.yaml`, `epoch_{E}.pth` + `latest.json` (+ `best.pth`), `log.jsonl` (one JSON object per iteration and per
evaluation), `train.log` (plain text), `loss.png`, `lr.png`, `val_miou.png` and, when tensorboard is installed,
`tensorboard/` (see `run_log.RunLogger`). Seeds and resumption are `resume.py`'s.
"""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Union

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler, Sampler

from humanparse.configs import Config
from humanparse.data.datasets import build_dataset
from humanparse.data.transforms.mixup import MIXUP_KEY, BatchMixup, build_batch_augmentation
from humanparse.engine import checkpoint as ckpt
from humanparse.engine import distributed as dist_utils
from humanparse.engine import evaluator
from humanparse.engine.optim import build_optimizer, lr_at, poly_lr, set_lr
from humanparse.engine.resume import (
    RESUMABLE_CHANGES,
    batch_augmentation_state,
    capture_rng_state,
    check_resumable,
    find_resume_checkpoint,
    give_rng,
    restore_rng_state,
    seed_everything,
    seed_worker,
)
from humanparse.engine.run_log import RunLogger
from humanparse.errors import CheckpointError, ConfigError, DataError, HumanParseError, unwrap_worker_error
from humanparse.inference.pipeline import worker_context
from humanparse.losses import build_loss
from humanparse.models.builder import build_model
from humanparse.models.checkpoint_io import checkpoint_dict

# Everything a run writes; --overwrite deletes only these, never other files a user keeps in the folder.
RUN_FILES = ("config.yaml", "log.jsonl", "train.log", ckpt.LATEST_POINTER, ckpt.BEST_NAME, "loss.png", "lr.png",
             "val_miou.png")  # fmt: skip
RUN_GLOBS = ("epoch_*.pth", ".*.tmp", "tensorboard")
__all__ = ["RESUMABLE_CHANGES", "Trainer", "TrainingDiverged", "check_resumable", "poly_lr", "prepare_work_dir",
           "train"]  # fmt: skip


class TrainingDiverged(HumanParseError):
    """The loss or the weights became NaN or infinite; the run stops and keeps its last good checkpoint."""


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
        remove_run_files(work_dir)
    if is_main:
        work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir


def remove_run_files(work_dir: Path) -> List[str]:
    """Delete the files a run writes (RUN_FILES, RUN_GLOBS), never others; returns their names."""
    removed = []
    for name in RUN_FILES:
        if (work_dir / name).exists():
            (work_dir / name).unlink()
            removed.append(name)
    for pattern in RUN_GLOBS:
        for path in work_dir.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path.name)
    return removed


class Trainer:
    """Trains `config`'s model on its dataset; `fit()` runs the whole schedule and returns a summary.

    The constructor only records the options: the process group, the work dir, the data and the model are set up
    by `fit()` (`setup`).

    Args:
        config: the recipe; `config.data.root` must point at the dataset.
        work_dir: where checkpoints, logs and plots go.
        device: "cpu" or "cuda" (under torchrun each process takes cuda:LOCAL_RANK).
        resume: continue from the work dir's last checkpoint (`latest.json`, else the newest readable
            `epoch_*.pth`); in an empty or new folder the run starts fresh, in a folder holding a run without a
            readable checkpoint it stops with a ConfigError.
        overwrite: reuse a non-empty work dir, deleting the previous run's files.
        progress: show a progress bar.
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
        self.work_dir = Path(work_dir)
        self.device_name = device
        self.resume = resume
        self.overwrite = overwrite
        self.progress = progress
        self.keep_checkpoints = max(1, keep_checkpoints)
        self.log_interval = max(1, log_interval)
        # built by setup()
        self.context: Optional[dist_utils.DistributedContext] = None
        self.device = torch.device("cpu")
        self.use_amp = False
        self.channels_last = False
        self.log: Optional[RunLogger] = None
        self.train_dataset: Optional[Dataset] = None
        self.val_dataset: Optional[Dataset] = None
        self.sampler: Optional[Sampler] = None
        self.loader_generator: Optional[torch.Generator] = None
        self.train_loader: Optional[DataLoader] = None
        self.max_iterations = 0
        self.model: Optional[nn.Module] = None
        self.optimizer: Optional[torch.optim.Optimizer] = None
        self.scaler: Optional[torch.amp.GradScaler] = None
        self.loss_fn: Optional[nn.Module] = None
        self.batch_augmentation: Optional[BatchMixup] = None
        # where the run stands (restored on resume)
        self.epoch = 0  # epochs completed
        self.iteration = 0  # iterations completed
        self.history: List[Dict[str, Any]] = []
        self.best_miou = -math.inf
        self.last_good_checkpoint: Optional[Path] = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes the work dir."""
        return self.context is None or self.context.is_main

    # ---------------------------------------------------------------- the run
    def fit(self) -> Dict[str, Any]:
        """Train for the remaining epochs; returns {"epochs", "iterations", "history", "best_mIoU", "work_dir"}."""
        self.setup()
        try:
            self.log.open_bar(total=self.max_iterations, initial=self.iteration)
            while self.epoch < self.config.train.epochs:
                self.train_one_epoch()
                self.end_epoch()
            self.log.plot()
            self.log.info(f"done: {self.epoch} epochs, {self.iteration} iterations")
        finally:
            self.log.close()
        return {
            "epochs": self.epoch,
            "iterations": self.iteration,
            "history": self.history,
            "best_mIoU": None if self.best_miou == -math.inf else self.best_miou,
            "work_dir": str(self.work_dir),
        }

    # ---------------------------------------------------------------- set-up
    def setup(self) -> None:
        """Join the process group, check the work dir, find the checkpoint to resume from, open the logs, then
        build the data, the model, the optimizer, the loss and the batch augmentation (restoring the checkpoint)."""
        config = self.config
        self.context = dist_utils.init_distributed(self.device_name)
        self.device = self.context.device
        self.use_amp = bool(config.train.amp) and self.device.type == "cuda"
        self.channels_last = self.device.type == "cuda"
        prepare_work_dir(self.work_dir, resume=self.resume, overwrite=self.overwrite, is_main=self.is_main)
        dist_utils.barrier()
        found = find_resume_checkpoint(self.work_dir, RUN_FILES) if self.resume else None
        if found is not None:
            check_resumable(config, found[1]["config"], found[0])
        restarted: List[str] = []
        if self.resume and found is None and self.is_main:
            restarted = remove_run_files(self.work_dir)  # a run that saved no checkpoint: its logs go too
        dist_utils.barrier()
        if self.resume and self.is_main:
            ckpt.remove_temporary_files(self.work_dir)  # left by writes a kill or a full disk interrupted
        self.log = RunLogger(
            self.work_dir,
            enabled=self.is_main,
            keep_until_iteration=int(found[1]["iteration"]) if found else None,
            log_interval=self.log_interval,
            progress=self.progress,
        )
        if self.resume and found is None and restarted:
            self.log.note(
                f"nothing to resume in {self.work_dir}: the run there saved no checkpoint; starting it again"
            )
        elif self.resume and found is None:
            self.log.note(f"nothing to resume in {self.work_dir}: starting a new run")

        seed_everything(config.train.seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # SSSegmentation's runtime setting
        self.train_loader = self.build_train_loader()
        self.max_iterations = config.train.epochs * len(self.train_loader)
        model = build_model(config).to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.optimizer = build_optimizer(model, config.train)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.loss_fn = build_loss(config)
        self.batch_augmentation = build_batch_augmentation(config)
        if found is not None:
            self.restore(model, *found)
        self.model = self.wrap_distributed(model)

        if self.is_main:
            (self.work_dir / "config.yaml").write_text(config.to_yaml())
        start = f"resuming from {found[0].name} (epoch {self.epoch})" if found else "start"
        self.log.info(
            f"{start}: {config.name}, {self.context.world_size} process(es) on {self.device}, "
            f"{len(self.train_dataset)} training images, {len(self.train_loader)} iterations per epoch, "
            f"{self.max_iterations} in all"
        )

    def build_train_loader(self) -> DataLoader:
        """The training DataLoader: this rank's share of the total batch, shuffled from the seeded generator."""
        config, context = self.config, self.context
        per_rank_batch = config.train.batch_size // context.world_size
        if per_rank_batch < 1 or config.train.batch_size % context.world_size:
            raise ConfigError(
                f"train.batch_size {config.train.batch_size} is the total over all processes and must be a "
                f"multiple of the world size {context.world_size}"
            )
        self.train_dataset = build_dataset(config, config.data.train_split, train=True)
        self.loader_generator = torch.Generator().manual_seed(config.train.seed)
        if context.world_size > 1:
            self.sampler = DistributedSampler(
                self.train_dataset, context.world_size, context.rank, shuffle=True, seed=config.train.seed
            )
        else:
            self.sampler = RandomSampler(self.train_dataset, generator=self.loader_generator)
        loader = DataLoader(
            self.train_dataset,
            batch_size=per_rank_batch,
            sampler=self.sampler,
            num_workers=config.data.num_workers,
            pin_memory=self.device.type == "cuda",
            drop_last=config.train.drop_last,
            worker_init_fn=functools.partial(seed_worker, rank=context.rank),
            generator=self.loader_generator,
            # as predict's: workers start from a clean process, never by forking this one, whose OpenCV and
            # runtime thread pools (after a validation, or ONNX Runtime loaded) a forked child can hang on
            multiprocessing_context=worker_context() if config.data.num_workers else None,
        )
        if len(loader) == 0:
            raise DataError(
                f"the {config.data.train_split!r} split under {config.data.root} has {len(self.train_dataset)} "
                f"images, fewer than one batch of {per_rank_batch} per process (drop_last is on)"
            )
        return loader

    def restore(self, model: nn.Module, path: Path, state: Dict[str, Any]) -> None:
        """Continue from a training checkpoint: weights, optimizer, counters, history and random streams."""
        model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if "grad_scaler" in state and self.use_amp:
            self.scaler.load_state_dict(state["grad_scaler"])
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        self.history = list(state.get("history", []))
        self.best_miou = max(
            [h["mIoU"] for h in self.history if h.get("mIoU") is not None], default=-math.inf
        )
        self.last_good_checkpoint = path
        ranks = state["rng"]["ranks"]
        if len(ranks) != self.context.world_size:
            self.log.note(f"the checkpoint was written by {len(ranks)} process(es), this run has "
                          f"{self.context.world_size}: random streams continue from rank 0's")  # fmt: skip
        rank_state = ranks[self.context.rank] if len(ranks) == self.context.world_size else ranks[0]
        restore_rng_state(rank_state["global"], {"loader": self.loader_generator})
        if self.batch_augmentation is not None:
            self.batch_augmentation.load_state_dict(batch_augmentation_state(rank_state))
        if self.is_main:
            repaired = ckpt.restore_best(self.work_dir, self.history)
            if repaired:
                self.log.note(repaired)

    def wrap_distributed(self, model: nn.Module) -> nn.Module:
        """DistributedDataParallel (with SyncBatchNorm on CUDA when the recipe asks) under torchrun."""
        if self.context.world_size == 1:
            return model
        if self.config.model.sync_bn and self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        elif self.config.model.sync_bn:
            # torch's SyncBatchNorm runs on GPUs only; on CPU each process keeps its own batch statistics
            self.log.note("SyncBatchNorm needs CUDA; on the CPU each process normalises with its own batch")
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    # ---------------------------------------------------------------- one epoch
    def train_one_epoch(self) -> None:
        """One pass over the training set; appends the epoch's mean losses to `history`."""
        config = self.config
        epoch = self.epoch + 1
        if isinstance(self.sampler, DistributedSampler):
            self.sampler.set_epoch(epoch)
        if config.data.num_workers == 0:
            # no worker_init_fn in the main process: seed the transforms from the loader's generator instead
            seed = int(torch.randint(0, 2**62, (1,), generator=self.loader_generator).item())
            give_rng(self.train_dataset, seed, self.context.rank)
        self.model.train()
        self.log.start_epoch(epoch, config.train.epochs)
        sums: Dict[str, float] = {}
        count = 0
        for batch in batches(self.train_loader):
            record = self._train_iteration(batch, epoch)
            for key, value in record.items():
                if key.startswith("loss"):
                    sums[key] = sums.get(key, 0.0) + value
            count += 1
        self.epoch = epoch
        self.history.append(
            {"epoch": epoch, "iteration": self.iteration, **{k: v / count for k, v in sums.items()}}
        )

    def _train_iteration(self, batch: Dict[str, Any], epoch: int) -> Dict[str, Any]:
        config = self.config
        lr = lr_at(config.train, self.iteration, self.max_iterations)
        set_lr(self.optimizer, lr)
        batch = {
            k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()
        }
        if self.batch_augmentation is not None:
            batch = self.batch_augmentation(batch)
        losses = self._forward_backward(batch)
        reduced = dist_utils.all_reduce_mean(torch.stack([v.detach().float() for v in losses.values()]))
        values = dict(zip(losses, reduced.tolist()))
        if dist_utils.any_process(not all(math.isfinite(v) for v in values.values()), self.device):
            terms = ", ".join(f"{k}={v}" for k, v in values.items())
            self._diverged(
                f"the loss is not finite at epoch {epoch}, iteration {self.iteration + 1} ({terms}); training "
                "stopped without updating the weights",
                epoch,
                self.iteration + 1,
            )
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.iteration += 1
        record = {"type": "train", "epoch": epoch, "iteration": self.iteration, "lr": lr, **values}
        if MIXUP_KEY in batch:
            record["mixup"] = True
        self.log.iteration(record, self.max_iterations, config.train.epochs)
        return record

    def _forward_backward(self, batch: Dict[str, Any]) -> Dict[str, torch.Tensor]:
        images = batch["image"]
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
            losses = self.loss_fn(self.model(images), batch)
        self.optimizer.zero_grad(set_to_none=True)
        # backward runs even for a non-finite loss so that every DDP process joins the gradient all-reduce;
        # the caller then stops before the optimizer step, so the weights never see that gradient
        self.scaler.scale(losses["loss"]).backward()
        return losses

    def _diverged(self, what: str, epoch: int, iteration: int) -> None:
        kept = (
            f"the last good checkpoint is {self.last_good_checkpoint}"
            if self.last_good_checkpoint is not None
            else "no checkpoint had been written yet"
        )
        message = f"{what}, and {kept}. Try a lower train.lr or check the data"
        self.log.error({"type": "error", "epoch": epoch, "iteration": iteration, "message": message})
        raise TrainingDiverged(message)

    # ---------------------------------------------------------------- end of an epoch
    def end_epoch(self) -> None:
        """Check the weights, evaluate when the schedule says so, save the checkpoint, plot on improvement."""
        config = self.config
        self.check_finite_weights()
        interval = config.train.eval_interval
        improved = False
        if self.epoch == config.train.epochs or (interval > 0 and self.epoch % interval == 0):
            improved = self.evaluate()
        self.save(improved)
        mean_loss = self.history[-1].get("loss", float("nan"))
        self.log.info(f"epoch {self.epoch}/{config.train.epochs} done: mean loss {mean_loss:.4f}")
        if improved or self.epoch == config.train.epochs:
            self.log.plot()

    def check_finite_weights(self) -> None:
        """Stop the run (TrainingDiverged) before saving weights that hold a NaN or an infinity: a finite loss
        does not prove finite weights (BatchNorm's running_var overflows first with a very high LR)."""
        bad = ckpt.non_finite_entries(dist_utils.unwrap_model(self.model).state_dict())
        if dist_utils.any_process(bool(bad), self.device):
            shown = ", ".join(bad[:3]) + (", ..." if len(bad) > 3 else "") if bad else "on another process"
            self._diverged(
                f"the weights are not finite after epoch {self.epoch}, iteration {self.iteration} ({shown}); "
                "training stopped without saving them",
                self.epoch,
                self.iteration,
            )

    def evaluate(self) -> bool:
        """Score the model on the validation split; True when the mIoU is the best so far."""
        if self.val_dataset is None:
            self.val_dataset = build_dataset(self.config, self.config.data.val_split, train=False)
        metrics = evaluator.evaluate(
            dist_utils.unwrap_model(self.model),
            self.config,
            self.val_dataset,
            device=self.device,
            progress=self.progress and self.is_main,
        )
        self.model.train()
        miou = float(metrics["mIoU"])
        summary = {key: metrics[key] for key in ("mIoU", "pixel_acc", "mean_acc", "fwIoU") if key in metrics}
        self.history[-1].update(summary)
        improved = miou > self.best_miou
        self.best_miou = max(self.best_miou, miou)
        self.log.evaluation({"type": "eval", "epoch": self.epoch, "iteration": self.iteration, **summary,
                             "per_class_iou": metrics.get("per_class_iou")})  # fmt: skip
        return improved

    def save(self, improved: bool) -> None:
        """Write `epoch_E.pth` (+ `best.pth` when improved), move `latest.json`, prune old epochs (rank 0)."""
        rng_state: Dict[str, Any] = {"global": capture_rng_state({"loader": self.loader_generator})}
        if self.batch_augmentation is not None:
            rng_state["batch_augmentation"] = self.batch_augmentation.state_dict()
        ranks = [rng_state]
        if dist_utils.is_distributed():
            ranks = [None] * self.context.world_size
            torch.distributed.all_gather_object(ranks, rng_state)
        failure: Optional[HumanParseError] = None
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
            try:
                path = ckpt.save_checkpoint(state, self.work_dir, self.epoch, best=improved)
                ckpt.prune_checkpoints(self.work_dir, self.keep_checkpoints)
            except HumanParseError as error:  # a full disk: every rank stops, rank 0 with the reason
                failure = error
            else:
                best = f" (best so far, copied to {ckpt.BEST_NAME})" if improved else ""
                self.log.info(f"saved {path.name}{best}")
        if dist_utils.any_process(failure is not None, self.device):
            raise failure or CheckpointError(f"rank 0 could not write the checkpoint of epoch {self.epoch}")
        self.last_good_checkpoint = self.work_dir / ckpt.epoch_filename(self.epoch)


def batches(loader: DataLoader) -> Iterator[Dict[str, Any]]:
    """Iterate `loader`; our errors raised in a worker process come back without torch's wrapper text."""
    iterator = iter(loader)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except HumanParseError as error:
            unwrapped = unwrap_worker_error(error)
            if unwrapped is error:
                raise
            raise unwrapped from None
        yield batch


def train(config: Config, work_dir: Union[str, Path], **options: Any) -> Dict[str, Any]:
    """Build a Trainer (same keyword options) and run it; returns the summary of `Trainer.fit`."""
    return Trainer(config, work_dir, **options).fit()
