"""The auto runtime: what runs a network when no `--backend` is named, chosen by kind and by measurement.

* an OpenVINO IR (.xml): OpenVINO;
* a checkpoint or zoo name: torch (whose kernels, or OpenVINO's compilation, are chosen by measurement: see
  `compiled`);
* an ONNX file in float (humanparse's export, OOTDiffusion's `parsing_*.onnx`) on the CPU: ONNX Runtime or
  OpenVINO's CPU plugin, whichever is installed, or where both are, whichever runs it faster on this CPU. Both
  run the file's graph as it is, in f32; the file is timed once with each (alternating, at the recipe's input
  size; OpenVINO must win by `MARGIN`) and the decision cached per file (path, size, modification time), CPU,
  threads and versions in `cache_dir("engines")`;
* an int8 ONNX file (`humanparse quantize --out x.onnx`), or one on CUDA: ONNX Runtime, the runtime its
  quantization was made for.

`--backend onnxruntime` or `openvino` runs a file on that runtime, measured or not; so does
`HUMANPARSE_FILE_RUNTIME=onnxruntime|openvino` where the backend is left to auto (`auto`, or unset: measured).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import torch

from humanparse.errors import ConfigError
from humanparse.inference.runtimes.base import (
    RUNTIMES,
    Device,
    ModelSpec,
    Network,
    register_runtime,
    require_fp32,
    weights_of,
)
from humanparse.inference.runtimes.compiled import (
    MARGIN,
    read_record,
    runtime_versions,
    time_engines,
    write_record,
)
from humanparse.inference.runtimes.onnxruntime_runtime import onnxruntime_forward
from humanparse.inference.runtimes.openvino_runtime import openvino_forward
from humanparse.models.prepare.autotune import cpu_identity

FILE_RUNTIMES = ("onnxruntime", "openvino")
FILE_RUNTIME_ENV = "HUMANPARSE_FILE_RUNTIME"

_logger = logging.getLogger(__name__)


@register_runtime("auto", order=3)
def load_auto(spec: ModelSpec, device: Device, precision: str, optimize: bool) -> Network:
    """`spec` on the runtime its kind and this CPU's timing choose (see the module)."""
    suffix = Path(str(spec.weights)).suffix.lower() if spec.weights is not None else ""
    if suffix not in (".onnx", ".xml"):
        return RUNTIMES.get("torch").load(spec, device, precision, optimize)
    if spec.kernels is not None:
        raise ConfigError(
            f"--kernels {spec.kernels} applies to torch networks; a model file's runtime picks its own"
        )
    require_fp32(precision)
    if suffix == ".xml":
        return RUNTIMES.get("openvino").load(spec, device, precision, optimize)
    forced = os.environ.get(FILE_RUNTIME_ENV, "auto").strip().lower() or "auto"
    if forced != "auto":
        if forced not in FILE_RUNTIMES:
            raise ConfigError(
                f"{FILE_RUNTIME_ENV}={forced!r}: choose one of auto, {', '.join(FILE_RUNTIMES)}"
            )
        return RUNTIMES.get(forced).load(spec, device, precision, optimize)
    installed = [name for name in FILE_RUNTIMES if importlib.util.find_spec(name) is not None]
    if str(device) != "cpu" or len(installed) < 2 or not _is_float(spec):
        runtime = installed[0] if len(installed) == 1 and str(device) == "cpu" else "onnxruntime"
        return RUNTIMES.get(runtime).load(spec, device, precision, optimize)
    return _measured(spec)


def _is_float(spec: ModelSpec) -> bool:
    """Whether the ONNX file computes in float: a third-party file humanparse recognises, or one whose stored
    recipe says nothing of int8 (what cannot be read is not assumed float)."""
    if spec.output != 0:  # OOTDiffusion's parsing_*.onnx, recognised by `thirdparty.identify`
        return True
    from humanparse.inference.metadata import read_metadata

    try:
        return read_metadata(weights_of(spec, "ONNX")).get("humanparse.precision", "fp32") == "fp32"
    except Exception:  # noqa: BLE001  (no onnx package, an unreadable file: ONNX Runtime says what is wrong)
        return False


def file_identity(path: Path) -> dict:
    """What the faster runtime of a model file depends on."""
    stat = path.stat()
    return {
        "kind": "model file",
        "file": str(path.resolve()),
        "size": str(stat.st_size),
        "modified_ns": str(stat.st_mtime_ns),
        **cpu_identity(),
        "threads": str(torch.get_num_threads()),
        **runtime_versions(*FILE_RUNTIMES),
    }


def _measured(spec: ModelSpec) -> Network:
    """ONNX Runtime or OpenVINO for a float ONNX file: the cached decision, else timed now (the loser's session
    dropped)."""
    path = weights_of(spec, "ONNX")
    identity = file_identity(path)
    record = read_record(identity)
    if record is not None and record.get("runtime") in FILE_RUNTIMES:
        forward = (onnxruntime_forward if record["runtime"] == "onnxruntime" else openvino_forward)(
            path, "cpu", output=spec.output
        )
        return Network(forward, torch.device("cpu"), spec.source)
    _logger.warning("note: timing ONNX Runtime against OpenVINO on %s; done once, cached", path)
    forwards = {
        "onnxruntime": onnxruntime_forward(path, "cpu", output=spec.output),
        "openvino": openvino_forward(path, "cpu", output=spec.output),
    }
    size = tuple(spec.config.eval.input_size) if spec.config is not None else (473, 473)
    try:
        seconds = time_engines(forwards, (1, 3, *size))
    except ConfigError as error:  # the file takes another input size than its recipe's: keep ONNX Runtime
        _logger.warning("note: %s not timed (%s); ONNX Runtime runs it", path, str(error).splitlines()[0])
        return Network(forwards["onnxruntime"], torch.device("cpu"), spec.source)
    chosen = "openvino" if seconds["openvino"] < seconds["onnxruntime"] * (1 - MARGIN) else "onnxruntime"
    times_ms = {name: round(1000 * value, 1) for name, value in seconds.items()}
    write_record(identity, {"runtime": chosen, "times_ms": times_ms})
    _logger.warning(
        "note: %s kept for %s: %.0f ms OpenVINO vs %.0f ms ONNX Runtime per call",
        "OpenVINO" if chosen == "openvino" else "ONNX Runtime",
        path.name,
        times_ms["openvino"],
        times_ms["onnxruntime"],
    )
    return Network(forwards[chosen], torch.device("cpu"), spec.source)
