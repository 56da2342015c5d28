"""The streaming predict pipeline: photos decoded in DataLoader workers, batched through the network, written by
a background thread; resumable, and split over processes (torchrun) or invocations (`--shard K/N`).

Determinism: the sorted photo list is cut into blocks of `batch_size`; block `b` belongs to part `b % parts`,
and a block is always run as one batch (photos of equal input shape share a forward pass). A photo therefore
meets the same batch whether one process or many run, and whether or not a run resumes, so the outputs are
byte-identical as long as each process uses the same device kind, number of threads and CPU kernels (chosen by
timing unless `--kernels` forces them; the choice is cached per machine, so processes that measure at the same
moment may differ by float rounding).
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from humanparse.data.io import label_png
from humanparse.errors import ConfigError, DataError
from humanparse.hardware import resolve_device
from humanparse.inference.leftovers import remove_leftovers
from humanparse.inference.masks import MaskSpec, compute_mask, mask_png
from humanparse.inference.prediction_io import (
    PhotoItem,
    add_legend,
    encode,
    npy_bytes,
    output_suffixes,
    overlay,
    png_bytes,
    write_atomic,
)
from humanparse.inference.storage import Folder, has, location, put, read_photo, remove

LOGITS_LAYOUTS = ("khw", "hwk")
LOGITS_DTYPES = ("float16", "float32")
JPEG_QUALITY = 95


@dataclass(frozen=True)
class OutputSpec:
    """What is written for each photo, beside its label map `<relative>.png`."""

    palette: str = "lip"
    class_names: Tuple[str, ...] = ()
    masks: Tuple[MaskSpec, ...] = ()  # `<relative>_<name>.png` each
    label_lookup: Optional[np.ndarray] = None  # --label-map: recipe class -> saved id
    overlay: bool = False
    legend: bool = False
    logits: bool = False
    logits_layout: str = "khw"
    logits_dtype: str = "float16"

    def __post_init__(self) -> None:
        if self.logits_layout not in LOGITS_LAYOUTS:
            raise ConfigError(f"--logits-layout must be one of {', '.join(LOGITS_LAYOUTS)}")
        if self.logits_dtype not in LOGITS_DTYPES:
            raise ConfigError(f"--logits-dtype must be one of {', '.join(LOGITS_DTYPES)}")

    @property
    def suffixes(self) -> Tuple[str, ...]:
        return output_suffixes(self.overlay, self.logits, [mask.name for mask in self.masks])

    @property
    def keep_image(self) -> bool:
        """Whether `write` needs the decoded photo."""
        return self.overlay

    def paths(self, out: Path, item: PhotoItem) -> List[Path]:
        return [out / f"{item.relative}{suffix}" for suffix in self.suffixes]

    def done(self, out: Folder, item: PhotoItem) -> bool:
        """Whether every output of `item` exists (a run writes each one atomically, so existing means whole)."""
        return all(has(out, f"{item.relative}{suffix}") for suffix in self.suffixes)

    def write(
        self,
        out: Folder,
        item: PhotoItem,
        labels: np.ndarray,
        logits: Optional[np.ndarray] = None,
        image: Optional[np.ndarray] = None,
    ) -> None:
        """Encode and atomically write every output of one photo (labels are the recipe's classes)."""
        for name, data in self.encode(item, labels, logits, image):
            put(out, name, data)

    def encode(
        self,
        item: PhotoItem,
        labels: np.ndarray,
        logits: Optional[np.ndarray] = None,
        image: Optional[np.ndarray] = None,
    ) -> List[Tuple[str, bytes]]:
        """The (path below --out, bytes) of every output of one photo, label map first."""
        base = item.relative
        saved = self.label_lookup[labels] if self.label_lookup is not None else labels
        files = [(f"{base}.png", png_bytes(label_png(saved, self.palette)))]
        for mask in self.masks:
            files.append((f"{base}_{mask.name}.png", mask_png(compute_mask(labels, mask.classes))))
        if self.overlay and image is not None:
            path = Path(f"{base}_overlay.jpg")
            picture = overlay(image, labels, self.palette)
            if self.legend:
                picture = add_legend(picture, labels, self.class_names, self.palette)
            files.append((path.as_posix(), encode(path, picture, cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY)))
        if self.logits and logits is not None:
            array = logits if self.logits_layout == "khw" else np.transpose(logits, (1, 2, 0))
            files.append(
                (f"{base}_logits.npy", npy_bytes(np.ascontiguousarray(array, dtype=self.logits_dtype)))
            )
        return files


@dataclass
class Summary:
    """What one part of a run did: photos written, skipped (already done), failed (path + reason), seconds."""

    done: int = 0
    skipped: int = 0
    failed: List[Dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @staticmethod
    def merge(parts: Sequence[Summary]) -> Summary:
        """The summary of parts that ran side by side (wall time: the slowest part's)."""
        failed = sorted((entry for part in parts for entry in part.failed), key=lambda entry: entry["path"])
        return Summary(
            done=sum(part.done for part in parts),
            skipped=sum(part.skipped for part in parts),
            failed=failed,
            seconds=max((part.seconds for part in parts), default=0.0),
        )

    def line(self) -> str:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        return (
            f"done {self.done}, skipped {self.skipped} (outputs already there), failed {len(self.failed)}; "
            f"{self.seconds:.1f} s, {rate:.2f} images/s"
        )


# ----------------------------------------------------------------------------------------------- decoding
class PhotoDataset(torch.utils.data.Dataset):
    """Photo `index` decoded and transformed: the sample dict plus `index` (and `original`, the BGR photo, when
    `keep_image`), or `{"index", "error"}` when it cannot be read."""

    def __init__(
        self,
        items: Sequence[PhotoItem],
        transform: Callable,
        keep_image: bool = False,
        max_pixels: Optional[float] = None,
        read: Callable[..., Any] = read_photo,
    ) -> None:
        # one numpy array, not a million Path objects whose reference counts would copy the pages into every worker
        self.sources = np.array([str(item.source) for item in items])
        self.transform = transform
        self.keep_image = keep_image
        self.max_pixels = max_pixels  # checked from the header, before decoding
        self.read = read  # (path, max_pixels) -> what `transform` takes (OpenCV's BGR array; tryon: PIL)

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> Dict[str, Any]:
        source = str(self.sources[index])
        try:
            image = self.read(source, self.max_pixels)
            sample = self.transform(image)
        except DataError as error:
            return {"index": index, "error": str(error)}
        except Exception as error:  # a decoder or transform failure on one photo must not end the run
            return {"index": index, "error": f"{source}: {type(error).__name__}: {error}"}
        sample["index"] = index
        if self.keep_image:
            sample["original"] = torch.from_numpy(image)  # a tensor crosses processes in shared memory
        return sample


def _as_list(samples: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return samples


def worker_context():
    """How decoding workers start: from a clean process ("forkserver", "spawn" where there is none), never by
    forking this one: a fork inherits OpenCV's thread pool, and the child hangs the first time OpenCV touches it
    (seen with `cv2.setNumThreads` after the parent had run `cv2.warpAffine`)."""
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # torch and OpenCV imported once, in the server
    return context


def _worker_init(_: int) -> None:
    cv2.setNumThreads(1)  # the workers are the parallelism; OpenCV's own threads would only compete


def default_workers(cores: int) -> int:
    """Decoding processes beside the network: min(4, cores - 1), none on two cores or fewer: there the network's
    threads take every core and a decoding process only competes with them (its start alone, about a second of
    importing torch, cost more than it saved: 64 photos through ce2p_tiny_synthetic in 3.1 s without, 4.5 s with
    one; 16 through SCHP R-101 in 11.4 s against 12.5 s)."""
    return 0 if cores <= 2 else min(4, cores - 1)


def my_blocks(count: int, batch_size: int, part: int, parts: int) -> List[List[int]]:
    """The blocks (`batch_size` consecutive photos of the sorted list) of part `part` of `parts`."""
    blocks = [list(range(start, min(start + batch_size, count))) for start in range(0, count, batch_size)]
    return blocks[part::parts]


# ------------------------------------------------------------------------------------------------ writing
class Writer:
    """A background thread that writes outputs from a bounded queue, so encoding never stalls the network."""

    def __init__(self, write: Callable[..., None], depth: int) -> None:
        self._write = write
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._loop, name="predict-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self.error is None:
                try:
                    self._write(*job)
                except BaseException as error:  # handed to the main thread, which stops the run
                    self.error = error

    def put(self, *job: Any) -> None:
        self.check()
        self._queue.put(job)

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self.check()


# ------------------------------------------------------------------------------------------------ running
def run_pipeline(
    predictor,
    items: Sequence[PhotoItem],
    out: Folder,
    spec: OutputSpec,
    *,
    batch_size: int = 1,
    workers: int = 0,
    part: int = 0,
    parts: int = 1,
    overwrite: bool = False,
    progress: Optional[Callable[[int], Any]] = None,
    on_plan: Optional[Callable[[int, int], Any]] = None,
    max_pixels: Optional[float] = None,
) -> Summary:
    """Predict and write this part's photos; returns its Summary.

    `predictor` needs `transform` (run in the workers), `predict_samples` and `device`, and may give `read`
    ((path, max_pixels) -> what `transform` takes; default `read_image`). `spec` needs `suffixes`, `keep_image`,
    `done` and `write` (`OutputSpec`; `humanparse tryon` gives its own). `progress(n)` is called as photos
    are handed to the writer; `on_plan(todo, skipped)` once the photos already done are known. A photo over
    `max_pixels` (read from its header) fails on its own. The temporary files that a killed run left for the
    photos still to do are removed first.
    """
    start = time.perf_counter()
    summary = Summary()
    blocks, pending = [], set()
    for block in my_blocks(len(items), batch_size, part, parts):
        todo = [i for i in block if overwrite or not spec.done(out, items[i])]
        summary.skipped += len(block) - len(todo)
        if todo:  # a half-done block runs whole: its photos keep the batch they had
            blocks.append(block)
            pending.update(todo)
    if isinstance(out, Path):  # an object store never holds a partial output (one PUT each)
        remove_leftovers(spec.paths(out, items[index]) for index in pending)
    if on_plan is not None:
        on_plan(len(pending), summary.skipped)
    if not blocks:
        summary.seconds = time.perf_counter() - start
        return summary
    read = getattr(predictor, "read", read_photo)
    dataset = PhotoDataset(
        items, predictor.transform, keep_image=spec.keep_image, max_pixels=max_pixels, read=read
    )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=blocks,
        num_workers=workers,
        collate_fn=_as_list,
        worker_init_fn=_worker_init if workers else None,
        multiprocessing_context=worker_context() if workers else None,
        prefetch_factor=2 if workers else None,
        pin_memory=torch.device(predictor.device).type == "cuda",
    )

    def write(
        index: int, labels: np.ndarray, logits: Optional[np.ndarray], image: Optional[np.ndarray]
    ) -> None:
        spec.write(out, items[index], labels, logits, image)

    writer = Writer(write, depth=2 * batch_size)
    try:
        for samples in loader:
            writer.check()
            good = [sample for sample in samples if "error" not in sample]
            for sample in samples:
                if "error" in sample and sample["index"] in pending:
                    summary.failed.append(
                        {"path": str(items[sample["index"]].source), "error": sample["error"]}
                    )
            if good:
                labels, logits = predictor.predict_samples(good, with_logits=spec.logits)
                for position, sample in enumerate(good):
                    if sample["index"] not in pending:
                        continue
                    image = sample["original"].numpy() if "original" in sample else None
                    writer.put(sample["index"], labels[position], logits[position] if logits else None, image)
                    summary.done += 1
            if progress is not None:
                progress(sum(1 for sample in samples if sample["index"] in pending))
    finally:
        writer.close()
    summary.seconds = time.perf_counter() - start
    return summary


# ------------------------------------------------------------------------------------------- distribution
@dataclass(frozen=True)
class Placement:
    """Which part of the photo list this process runs, its device and its CPU threads."""

    part: int
    parts: int
    rank: int
    world_size: int
    device: torch.device  # checked (`resolve_device`): the factory takes it as it is
    threads: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def parse_shard(text: Optional[str]) -> Tuple[int, int]:
    """`"K/N"` -> (K, N) with 0 <= K < N; None -> (0, 1)."""
    if text is None:
        return 0, 1
    try:
        index, count = (int(value) for value in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not 0 <= index < count:
        raise ConfigError(f"--shard {text!r}: K must be in 0..N-1")
    return index, count


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def place(device: str, shard: Optional[str] = None, threads: Optional[int] = None) -> Placement:
    """This process's part: `--shard K/N` splits the list first, torchrun's ranks (RANK, WORLD_SIZE) split the
    shard. GPUs: rank -> cuda:LOCAL_RANK. CPUs: the cores are divided between the processes of a machine."""
    shard_index, shard_count = parse_shard(shard)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size)))
    target = resolve_device(device)
    if target.type == "cuda" and world_size > 1:
        target = torch.device("cuda", local_rank % torch.cuda.device_count())
    if threads is None:
        threads = max(1, available_cores() // max(1, local_world))
    return Placement(
        part=shard_index * world_size + rank,
        parts=shard_count * world_size,
        rank=rank,
        world_size=world_size,
        device=target,
        threads=threads,
    )


def gather_summaries(summary: Summary, placement: Placement) -> Summary:
    """The merged summary of every rank, on every rank; a gloo group only for this gather, with a
    timeout long enough for ranks that finish far apart (a resumed run may leave one rank nothing to do)."""
    if placement.world_size == 1:
        return summary
    import datetime

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=datetime.timedelta(days=7))
    gathered: List[Optional[Summary]] = [None] * placement.world_size
    dist.all_gather_object(gathered, summary)
    dist.destroy_process_group()
    return Summary.merge([part for part in gathered if part is not None])


def failed_name(shard: Optional[str]) -> str:
    """`failed.jsonl`, or `failed.shard-K-of-N.jsonl` for one of several separate invocations."""
    if shard is None:
        return "failed.jsonl"
    index, count = parse_shard(shard)
    return f"failed.shard-{index}-of-{count}.jsonl"


def failed_file(out: Folder, shard: Optional[str]) -> Union[Path, str]:
    """Where the failures of a run go (a Path, or a URI on an object store)."""
    return out / failed_name(shard) if isinstance(out, Path) else location(out, failed_name(shard))


def save_failures(out: Folder, shard: Optional[str], failed: Sequence[Dict[str, str]]) -> None:
    """`write_failures` into a local or object-store output folder."""
    if isinstance(out, Path):
        write_failures(out / failed_name(shard), failed)
    elif failed:
        put(out, failed_name(shard), "".join(json.dumps(entry) + "\n" for entry in failed).encode())
    else:
        remove(out, failed_name(shard))


def write_failures(path: Path, failed: Sequence[Dict[str, str]]) -> None:
    """One JSON object (`path`, `error`) a line; the file of an earlier run is removed when nothing failed."""
    if not failed:
        path.unlink(missing_ok=True)
        return
    write_atomic(path, "".join(json.dumps(entry) + "\n" for entry in failed).encode())
