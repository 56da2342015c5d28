"""Human parsing as Ray Data stages (extra [ray]): photos decoded by CPU tasks, parsed by an actor pool that
loads the model once per actor, results in columns that `write_parquet` and `write_images` take.

    import ray
    from humanparse.integrations.ray import HumanParser, decode_photos

    ds = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)
    ds = ds.map_batches(decode_photos)          # CPU tasks: a GPU actor never waits on JPEG decoding
    ds = ds.map_batches(
        HumanParser,
        fn_constructor_kwargs={"config": "ce2p_resnet101os8_lip", "checkpoint": "w.pth", "device": "cuda",
                               "masks": ["upper=upper_clothes,coat"]},
        concurrency=4, num_gpus=1, batch_size=16,
    )
    ds.write_parquet("s3://bucket/parsed/")     # path, labels, mask_upper, classes

`run_job` is `humanparse predict --engine ray`: the local pipeline's inputs, outputs, resume and failed.jsonl,
on a running cluster or a local one, with Ray Data's job-level checkpoint keyed by the photo's relative path.
"""

from __future__ import annotations

import logging
import socket
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

import numpy as np

from humanparse.errors import ConfigError, DataError, HumanParseError
from humanparse.inference.storage import Folder, ObjectFolder, put, read_bytes

try:
    import ray
    import ray.data
    from ray.data.block import BlockAccessor, BlockMetadata
    from ray.data.datasource import Datasink, Datasource, ReadTask
except ImportError as error:  # the module is only imported for Ray work
    raise ConfigError("the Ray integration needs ray[data]: pip install 'humanparse[ray]'") from error

Batch = Dict[str, Any]
CHECKPOINT_FOLDER = ".ray-checkpoint"  # inside --out, removed by Ray once the job succeeds
_FAILED_ID = "\x00failed"  # appended to a failed photo's id: a resumed job does not count it as done


def _objects(values: Sequence[Any]) -> np.ndarray:
    """An object array of `values` (arrays of different shapes stay separate elements)."""
    array = np.empty(len(values), dtype=object)
    for index, value in enumerate(values):
        array[index] = value
    return array


def _names(batch: Batch, count: int) -> List[str]:
    for column in ("path", "source", "relative"):
        if column in batch:
            return [str(value) for value in batch[column]]
    return [f"row {index}" for index in range(count)]


# --------------------------------------------------------------------------------------------- decoding
def decode_photos(batch: Batch) -> Batch:
    """CPU stage: the `bytes` column (as `read_binary_files` gives it) decoded into `photo`, BGR uint8 (H, W, 3)
    as `humanparse predict` decodes files; `bytes` is dropped. A photo that cannot be decoded gets an empty
    `photo` and its reason in `error` (empty for the others), so one bad file never fails the job."""
    from humanparse.data.io import decode_image

    data = batch["bytes"]
    names = _names(batch, len(data))
    errors = [str(value) for value in batch["error"]] if "error" in batch else [""] * len(data)
    photos = []
    for index, (content, name) in enumerate(zip(data, names)):
        photo = np.zeros((0, 0, 3), dtype=np.uint8)
        if not errors[index]:
            try:
                photo = decode_image(bytes(content), name)
            except DataError as failure:
                errors[index] = str(failure)
            except Exception as failure:  # a decoder failure on one photo must not end the job
                errors[index] = f"{name}: {type(failure).__name__}: {failure}"
        photos.append(photo)
    result = {key: value for key, value in batch.items() if key != "bytes"}
    result["photo"] = _objects(photos)
    result["error"] = np.array(errors, dtype=object)
    return result


# ---------------------------------------------------------------------------------------------- parsing
class HumanParser:
    """A stateful callable for `Dataset.map_batches` (one model per actor): label maps of the batch's photos.

    Rows carry `photo` (BGR uint8, from `decode_photos`), `bytes` (decoded here) or `image` (RGB arrays, as
    `read_images` gives). Adds `labels` (uint8 (H, W) at the photo's size, equal to `Predictor`'s for the same
    photo), `mask_<NAME>` (0/255) for each `masks` entry ("NAME=CLASS[,CLASS...]" as `predict --mask`),
    `classes` (the class names present) when `classes_present`, and `logits` (K x H x W, `logits_dtype`) when
    `with_logits`; rows whose `error` is set get empty arrays. The photo columns are dropped unless `keep_photo`.
    `threads`: torch threads of the actor (default: the CPUs Ray gave it).
    """

    def __init__(
        self,
        config: Any,
        checkpoint: Optional[str] = None,
        *,
        device: str = "cpu",
        backend: str = "torch",
        scales: Optional[Sequence[float]] = None,
        flip: Optional[bool] = None,
        precision: str = "fp32",
        masks: Sequence[str] = (),
        classes_present: bool = True,
        with_logits: bool = False,
        logits_dtype: str = "float16",
        keep_photo: bool = False,
        threads: Optional[int] = None,
    ) -> None:
        import torch

        from humanparse.inference.backends import create_predictor
        from humanparse.inference.masks import parse_mask_specs

        if threads is None:
            threads = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 0)) or None
        if threads:
            torch.set_num_threads(threads)
        self.predictor = create_predictor(
            config, checkpoint, backend=backend, device=device, precision=precision, scales=scales, flip=flip
        )
        self.masks = [
            (mask.name, mask.classes) for mask in parse_mask_specs(list(masks), self.predictor.class_names)
        ]
        self.classes_present = classes_present
        self.with_logits = with_logits
        self.logits_dtype = np.dtype(logits_dtype)
        self.keep_photo = keep_photo

    def _photos(self, batch: Batch) -> Tuple[List[Optional[np.ndarray]], str, List[str]]:
        """The batch's photos (None where `error` is set), their channel order and the errors."""
        if "photo" in batch:
            photos, order = list(batch["photo"]), "bgr"
            errors = [str(value) for value in batch["error"]] if "error" in batch else [""] * len(photos)
        elif "bytes" in batch:
            decoded = decode_photos(batch)
            photos, order, errors = list(decoded["photo"]), "bgr", list(decoded["error"])
        elif "image" in batch:
            photos, order = [np.asarray(image) for image in batch["image"]], "rgb"
            errors = [str(value) for value in batch["error"]] if "error" in batch else [""] * len(photos)
        else:
            raise DataError(
                f"HumanParser: the batch has no photo, bytes or image column ({', '.join(batch)})"
            )
        return [None if error else photo for photo, error in zip(photos, errors)], order, errors

    def __call__(self, batch: Batch) -> Batch:
        from humanparse.inference.masks import compute_mask

        photos, order, errors = self._photos(batch)
        good = [index for index, photo in enumerate(photos) if photo is not None]
        samples = [
            self.predictor.preprocess(np.ascontiguousarray(photos[i]), channel_order=order) for i in good
        ]
        labels: List[np.ndarray] = [np.zeros((0, 0), dtype=np.uint8)] * len(photos)
        logits: List[np.ndarray] = [np.zeros((0, 0, 0), dtype=np.float16)] * len(photos)
        if samples:
            predicted, predicted_logits = self.predictor.predict_samples(
                samples, with_logits=self.with_logits
            )
            for position, index in enumerate(good):
                labels[index] = predicted[position]
                if predicted_logits is not None:
                    logits[index] = predicted_logits[position].astype(self.logits_dtype)
        dropped = () if self.keep_photo else ("photo", "bytes", "image")
        result = {key: value for key, value in batch.items() if key not in dropped}
        result["labels"] = _objects(labels)
        result["error"] = np.array(errors, dtype=object)
        for name, class_ids in self.masks:
            result[f"mask_{name}"] = _objects([compute_mask(label, class_ids) for label in labels])
        if self.classes_present:
            names = self.predictor.class_names
            result["classes"] = _objects(
                [[names[c] for c in np.unique(label) if c < len(names)] for label in labels]
            )
        if self.with_logits:
            result["logits"] = _objects(logits)
        return result


# -------------------------------------------------------------------------------- `predict --engine ray`
class PhotoListDatasource(Datasource):
    """The photos of a planned `predict` run, read by Ray read tasks: `relative` (the checkpoint id), `source`,
    `bytes` (empty with `error` set when the file or object cannot be read)."""

    def __init__(self, items: Sequence[Tuple[str, str]]) -> None:
        super().__init__()
        self.items = list(items)  # (relative, source)

    def estimate_inmemory_data_size(self) -> Optional[int]:
        return None

    def get_read_tasks(self, parallelism: int, per_task_row_limit=None, data_context=None) -> List[ReadTask]:
        count = max(1, min(parallelism, len(self.items)))
        chunks = [self.items[part::count] for part in range(count)]
        return [
            ReadTask(
                lambda chunk=chunk: [_read_chunk(chunk)],
                BlockMetadata(num_rows=len(chunk), size_bytes=None, exec_stats=None, input_files=None),
                per_task_row_limit=per_task_row_limit,
            )
            for chunk in chunks
            if chunk
        ]


def _read_chunk(chunk: Sequence[Tuple[str, str]]):
    import pyarrow

    from humanparse.data.io import read_bytes as read_file
    from humanparse.inference.storage import is_remote

    data, errors = [], []
    for _, source in chunk:
        try:
            content = read_bytes(source, "image") if is_remote(source) else read_file(source, "image")
            data.append(content)
            errors.append("")
        except DataError as failure:
            data.append(b"")
            errors.append(str(failure))
    return pyarrow.table(
        {
            "relative": [relative for relative, _ in chunk],
            "source": [source for _, source in chunk],
            "bytes": pyarrow.array(data, type=pyarrow.binary()),
            "error": errors,
        }
    )


def _decode_stage(batch: Batch) -> Batch:
    """`decode_photos`, and a failed photo's id changed so that the job checkpoint does not record it as done
    (a resumed job retries it, as a rerun of the local pipeline does)."""
    result = decode_photos(batch)
    result["relative"] = np.array(
        [
            relative + _FAILED_ID if error else relative
            for relative, error in zip(batch["relative"], result["error"])
        ],
        dtype=object,
    )
    return result


class PredictionSink(Datasink):
    """Writes each row's `predict` outputs (label PNG, masks, overlay, logits) under --out, atomically; returns
    the photos written and the failures."""

    def __init__(self, out: Folder, spec) -> None:
        self.out = out
        self.spec = spec
        self.done = 0
        self.failed: List[Dict[str, str]] = []

    def write(self, blocks, ctx) -> Dict[str, Any]:
        from humanparse.inference.prediction_io import PhotoItem

        done, failed = 0, []
        for block in blocks:
            for row in BlockAccessor.for_block(block).iter_rows(public_row_format=False):
                if row["error"]:
                    failed.append({"path": str(row["source"]), "error": str(row["error"])})
                    continue
                item = PhotoItem(str(row["source"]), str(row["relative"]))
                logits = row.get("logits") if self.spec.logits else None
                image = np.asarray(row["photo"]) if self.spec.overlay else None
                for name, data in self.spec.encode(item, np.asarray(row["labels"]), logits, image):
                    put(self.out, name, data)
                done += 1
        return {"done": done, "failed": failed}

    def on_write_complete(self, write_result) -> None:
        for result in write_result.write_returns:
            self.done += result["done"]
            self.failed += result["failed"]


def _our_cause(error: BaseException) -> Optional[HumanParseError]:
    """The humanparse error behind Ray's task/actor wrappers, if any."""
    seen: Optional[BaseException] = error
    while seen is not None:
        cause = getattr(seen, "cause", None)
        if isinstance(cause, HumanParseError):
            return type(cause)(str(cause).splitlines()[-1] if str(cause) else "")
        seen = cause if isinstance(cause, BaseException) else (seen.__cause__ or seen.__context__)
    return None


def check_address(address: str, timeout: float = 5.0) -> None:
    """ConfigError in one line when nothing answers at a Ray address (`host:port`, `ray://host:port`)."""
    if address in ("auto", "local"):
        return
    parts = urlsplit(address if "://" in address else f"ray://{address}")
    try:
        port = parts.port or (10001 if parts.scheme == "ray" else 6379)
    except ValueError:
        raise ConfigError(f"--ray-address {address}: expected HOST:PORT or ray://HOST:PORT") from None
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            pass
    except OSError as error:
        raise ConfigError(
            f"--ray-address {address}: nothing answers ({error.strerror or error}); start the cluster "
            "with `ray start --head`, or leave --ray-address out for a local one"
        ) from None


def connect(address: Optional[str], num_cpus: Optional[int] = None) -> None:
    """Join the cluster at `address`, or start a local Ray with `num_cpus` logical CPUs (no dashboard)."""
    if address:
        check_address(address)
    if ray.is_initialized():
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=num_cpus, **quiet)
    except (ConnectionError, RuntimeError, TimeoutError) as error:
        where = f"--ray-address {address}" if address else "a local Ray"
        raise ConfigError(
            f"{where}: cannot connect ({str(error).splitlines()[0] if str(error) else error})"
        ) from None
    for name in ("ray", "ray.data"):  # Ray Data's INFO lines about each execution
        logging.getLogger(name).setLevel(logging.WARNING)


def default_threads(actors: int, gpus_per_actor: float) -> int:
    """Torch threads (and Ray CPUs) per actor: 1 beside a GPU; on CPUs, the largest machine's CPUs but two (left
    to the reading, decoding and writing tasks, and to the checkpoint filter of a resumed job), divided between
    the actors."""
    if gpus_per_actor:
        return 1
    nodes = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")]
    per_node = int(max(nodes, default=3))
    share = (per_node - 2) // actors if len(nodes) <= 1 else per_node - 2  # several machines: one actor each
    return max(1, share)


def checkpoint_path(out: Folder) -> str:
    """Where the job checkpoint lives: `.ray-checkpoint` inside --out (local folders: an absolute path; on a
    multi-machine cluster it must be shared storage, as --out then is)."""
    if isinstance(out, ObjectFolder):
        return out.child(CHECKPOINT_FOLDER)
    return str((out / CHECKPOINT_FOLDER).resolve())


def run_job(
    items: Sequence[Any],
    out: Folder,
    spec: Any,
    parser_kwargs: Dict[str, Any],
    *,
    actors: int = 1,
    threads: int = 1,
    gpus_per_actor: float = 0.0,
    batch_size: int = 1,
    overwrite: bool = False,
    on_plan=None,
):
    """`humanparse predict --engine ray` on a connected Ray: the photos whose outputs are missing read by
    tasks, decoded by tasks, parsed by `actors` HumanParser actors (`threads` CPUs and `gpus_per_actor` GPUs
    each), written by tasks; returns the pipeline's Summary. The job checkpoint (id: the relative path) lets a
    killed job resume without parsing again the photos it wrote."""
    from ray.data.checkpoint import CheckpointConfig

    from humanparse.inference.pipeline import Summary

    start = time.perf_counter()
    todo = [item for item in items if overwrite or not spec.done(out, item)]
    summary = Summary(skipped=len(items) - len(todo))
    if on_plan is not None:
        on_plan(len(todo), summary.skipped)
    if not todo:
        summary.seconds = time.perf_counter() - start
        return summary
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    override = None
    if isinstance(
        out, ObjectFolder
    ):  # the checkpoint goes through the outputs' fsspec client (same settings)
        import pyarrow.fs

        override = pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(out.fs))
    checkpoint = CheckpointConfig(
        id_column="relative", checkpoint_path=checkpoint_path(out), override_filesystem=override
    )
    # a resumed job filters the checkpointed ids in an actor (1 CPU); one is enough for a list of photo paths
    checkpoint.checkpoint_actor_pool_max_size = 1
    context.checkpoint_config = checkpoint
    source = PhotoListDatasource([(item.relative, str(item.source)) for item in todo])
    dataset = ray.data.read_datasource(source, override_num_blocks=max(1, min(len(todo), 4 * actors)))
    dataset = dataset.map_batches(_decode_stage, batch_size=max(1, batch_size), num_cpus=0.5)
    dataset = dataset.map_batches(
        HumanParser,
        fn_constructor_kwargs={
            **parser_kwargs,
            "masks": (),
            "classes_present": False,
            "with_logits": spec.logits,
            "logits_dtype": spec.logits_dtype,
            "keep_photo": spec.overlay,
            "threads": threads,
        },
        batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads,
        num_gpus=gpus_per_actor or None,
    )
    sink = PredictionSink(out, spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Ray's note that a non-file sink is checkpointed after the write
            dataset.write_datasink(sink)
    except ray.exceptions.RayError as error:
        cause = _our_cause(error)
        if (
            cause is not None
        ):  # e.g. weights that do not load, in an actor: one line, as the local engine says
            raise cause from None
        raise
    summary.done, summary.failed = sink.done, sorted(sink.failed, key=lambda entry: entry["path"])
    summary.seconds = time.perf_counter() - start
    return summary
