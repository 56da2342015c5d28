"""A torch network compiled whole by OpenVINO's CPU plugin, where that is faster than PyTorch (issue 23).

PyTorch's own kernels (chosen per convolution by `humanparse.models.prepare.autotune`) are not always the fastest
way to run a network on a CPU: OpenVINO's CPU plugin fuses the graph and, under bf16, uses AMX where the CPU has
it. Under `--kernels auto` (the default) on the CPU, where OpenVINO is installed, the prepared PyTorch network and
the same network converted by OpenVINO (f32 weights, run in the asked precision) are timed whole at the input
shape of one photo, in alternating calls, and the faster is kept; OpenVINO must win by `MARGIN`. `--kernels
openvino` forces it, `onednn` / `winograd` keep PyTorch.

Two caches in humanparse's cache folder make a run pay for this once:

* the decision (`engines/`), per CPU, threads, library versions, precision, recipe and shape;
* the converted network (`compiled/`, an OpenVINO IR: .xml + .bin of the f32 weights), per weights file (its
  path, size and modification time) and recipe: a later run with the decision cached reads the IR and never
  loads the checkpoint into PyTorch. A network given as a module is compiled only where forced or asked for
  (`humanparse benchmark`): it would be converted again in each process (each validation, in training).

Both engines compute the same function (f32 differences of ~1e-5 relative; in bf16 each rounds in its own way).
Networks with LayerNorm (transformers) are not compiled in bf16: the plugin's bf16 moves their labels far more.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import nn

from humanparse.cache import cache_dir
from humanparse.configs import Config
from humanparse.errors import HumanParseError
from humanparse.hardware import cpu_bf16_support
from humanparse.inference.runtimes.base import Forward, ModelSpec, Network
from humanparse.inference.runtimes.openvino_runtime import compile_openvino, compiled_forward
from humanparse.models.prepare.autotune import KernelChoice, architecture_hash, cpu_identity

ENGINE = "openvino"
MARGIN = (
    0.05  # OpenVINO must be this much faster to replace PyTorch (timings on shared cores move by a few %)
)
ROUNDS = 3  # timed calls per engine at most, alternating, after one untimed call each
CLEAR_LEAD = 0.2  # an engine this much faster than every call of the other ends the timing
CACHE_VERSION = 1
IR_NAME = "network.xml"  # with network.bin beside it
MAX_CACHED_IRS = 8  # converted networks kept, the most recently used

_logger = logging.getLogger(__name__)


def openvino_installed() -> bool:
    """Whether OpenVINO can be imported (without importing it)."""
    return importlib.util.find_spec("openvino") is not None


def engine_candidate(mode: str, precision: str, device: torch.device) -> bool:
    """Whether the compiled network is a candidate: `--kernels` auto or openvino, on the CPU, fp32 or a native
    bf16, OpenVINO installed (a forced openvino without it is a ConfigError naming the extra)."""
    if mode not in ("auto", ENGINE) or device.type != "cpu" or precision not in ("fp32", "bf16"):
        return False
    if precision == "bf16" and cpu_bf16_support()[0] is not True:
        return False  # the plugin would run f32 under the name bf16
    if mode == ENGINE:
        require_openvino()  # forced without OpenVINO: one line naming the extra
        return True
    return openvino_installed()


# ------------------------------------------------------------------------------------------------ identities
def _digest(data: Dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20]


def runtime_versions(*packages: str) -> Dict[str, str]:
    """The versions a timing depends on: torch, humanparse and `packages` (one not installed: "")."""
    from importlib.metadata import PackageNotFoundError, version

    import humanparse

    found = {"torch": torch.__version__, "humanparse": humanparse.__version__}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = ""
    return found


def recipe_digest(config: Config, model: Optional[nn.Module] = None) -> str:
    """What fixes the network's graph: the recipe's model section and scored output (and, for a given module,
    its architecture)."""
    described = {"model": config.to_dict()["model"], "output": config.eval.output}
    if model is not None:
        described["architecture"] = architecture_hash(model)
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:20]


def decision_identity(recipe: str, input_shape: Sequence[int], precision: str) -> Dict[str, str]:
    """What the faster engine depends on."""
    return {
        "version": str(CACHE_VERSION),
        **cpu_identity(),
        "threads": str(torch.get_num_threads()),
        **runtime_versions("openvino"),
        "precision": precision,
        "shape": "x".join(str(int(side)) for side in input_shape),
        "recipe": recipe,
    }


def weights_identity(weights: Path, recipe: str) -> Optional[Dict[str, str]]:
    """What the converted network depends on: the weights file as it is now, and the recipe; None when the file
    cannot be read."""
    try:
        stat = weights.stat()
    except OSError:
        return None
    return {
        "version": str(CACHE_VERSION),
        "weights": str(weights.resolve()),
        "size": str(stat.st_size),
        "modified_ns": str(stat.st_mtime_ns),
        "recipe": recipe,
        **runtime_versions("openvino"),
    }


@dataclass
class EngineDecision:
    """The faster engine for one identity, and the timings behind it (ms per call)."""

    engine: str  # "torch" or "openvino"
    torch_ms: float
    openvino_ms: float

    def reason(self) -> str:
        kept = "OpenVINO" if self.engine == ENGINE else "PyTorch"
        return f"{kept} kept: {self.openvino_ms:.0f} ms OpenVINO vs {self.torch_ms:.0f} ms PyTorch per call"


def _decision_path(identity: Dict[str, str]) -> Path:
    return cache_dir("engines") / f"{_digest(identity)}.json"


def read_record(identity: Dict[str, str]) -> Optional[dict]:
    """The cached decision record of `identity` (a dict), or None (absent, unreadable, or another identity's)."""
    try:
        data = json.loads(_decision_path(identity).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("identity") == identity else None


def write_record(identity: Dict[str, str], record: dict) -> None:
    """Store a decision `record` of `identity` atomically; a cache that cannot be written is only logged."""
    from humanparse.outputs import atomic_write

    text = json.dumps({**record, "identity": identity}, indent=1, sort_keys=True)
    try:
        atomic_write(_decision_path(identity), lambda stream: stream.write(text.encode()), durable=False)
    except HumanParseError as error:
        _logger.warning("engine choice not cached: %s", error)


def read_decision(identity: Dict[str, str]) -> Optional[EngineDecision]:
    """The cached decision for `identity`, or None."""
    data = read_record(identity)
    try:
        return (
            None
            if data is None
            else EngineDecision(str(data["engine"]), float(data["torch_ms"]), float(data["openvino_ms"]))
        )
    except (KeyError, TypeError, ValueError):
        return None


def write_decision(identity: Dict[str, str], decision: EngineDecision) -> None:
    """Store `decision` (see `write_record`)."""
    write_record(identity, dict(decision.__dict__))


def _ir_folder(identity: Dict[str, str]) -> Path:
    return cache_dir("compiled") / _digest(identity)


def cached_ir(identity: Optional[Dict[str, str]]) -> Optional[Path]:
    """The cached IR of `identity`, or None."""
    if identity is None:
        return None
    folder = _ir_folder(identity)
    try:
        if json.loads((folder / "identity.json").read_text()) == identity and (folder / IR_NAME).is_file():
            _mark_used(folder / IR_NAME)
            return folder / IR_NAME
    except (OSError, ValueError):
        pass
    return None


# ------------------------------------------------------------------------------------------------ conversion
class _Logits(nn.Module):
    """A humanparse network reduced to its scored output's logits (what the Forward returns)."""

    def __init__(self, model: nn.Module, output: str) -> None:
        super().__init__()
        self.model = model
        self.output = output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        outputs = self.model(images)
        return outputs if isinstance(outputs, torch.Tensor) else outputs[self.output]


def convert(model: nn.Module, output: str, input_shape: Sequence[int]):
    """`model` (prepared, eval mode) as an ov.Model taking images of any batch and size.

    Traced with autograd on: the Winograd layers of a prepared network then trace their ordinary convolution
    (NNPACK's is not an operation OpenVINO knows); the parameters need no gradient, so nothing is recorded.
    """
    openvino = require_openvino()
    example = torch.zeros(*input_shape)
    with torch.enable_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on sizes read as Python numbers
        traced = torch.jit.trace(_Logits(model, output).eval(), example, check_trace=False)
    return openvino.convert_model(traced, input=[openvino.PartialShape([-1, 3, -1, -1])])


def save_ir(ov_model, identity: Dict[str, str]) -> Optional[Path]:
    """Store `ov_model` as the IR of `identity`: written in a temporary folder, then renamed whole (a killed run
    leaves no half IR). A cache that cannot be written is only logged."""
    openvino = require_openvino()
    root = cache_dir("compiled")
    final = _ir_folder(identity)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
    except OSError as error:
        _logger.warning("compiled network not cached: %s", error)
        return None
    try:
        openvino.save_model(ov_model, str(staging / IR_NAME), compress_to_fp16=False)
        (staging / "identity.json").write_text(json.dumps(identity, sort_keys=True))
        if final.exists():
            shutil.rmtree(final)  # stale (another identity hashed the same, or a half-removed folder)
        os.replace(staging, final)
        final.chmod(0o755)  # mkdtemp's folder is private; the cache's other folders are not
        remove_stale_irs(root)
        return final / IR_NAME
    except OSError as error:
        _logger.warning("compiled network not cached: %s", error)
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_irs(root: Path, keep: int = MAX_CACHED_IRS) -> int:
    """Remove the cached IRs whose weights file is gone or changed (a temporary file, a retrained checkpoint), and
    those beyond the `keep` most recently used: each is about twice as large as its weights (the IR and the
    plugin's compiled kernels). Returns how many."""
    removed = 0
    current = []
    for identity_file in root.glob("*/identity.json"):
        try:
            identity = json.loads(identity_file.read_text())
            stat = Path(identity["weights"]).stat()
            fresh = (str(stat.st_size), str(stat.st_mtime_ns)) == (identity["size"], identity["modified_ns"])
            used = identity_file.stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            fresh, used = False, 0.0
        if fresh:
            current.append((used, str(identity_file.parent)))
        else:
            shutil.rmtree(identity_file.parent, ignore_errors=True)
            removed += 1
    for _, folder in sorted(current, reverse=True)[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _mark_used(ir: Path) -> None:
    """Record that the IR at `ir` was used now (`remove_stale_irs` keeps the most recently used)."""
    try:
        os.utime(ir.parent / "identity.json")
    except OSError:
        pass  # a read-only cache still serves


def require_openvino():
    from humanparse.extras import require

    return require("openvino", "--kernels openvino")


# -------------------------------------------------------------------------------------------------- timing
def time_engines(
    forwards: Dict[str, Forward], input_shape: Sequence[int], rounds: int = ROUNDS
) -> Dict[str, float]:
    """Median seconds per call of each forward on random images of `input_shape`, the engines taking turns after
    one untimed call each (OpenVINO specialises its kernels to a new shape there); the turns stop early once one
    engine is `CLEAR_LEAD` ahead of every call of the others (each turn of a ResNet-101 costs over a second)."""
    images = torch.rand(*input_shape)
    samples: Dict[str, list] = {name: [] for name in forwards}
    with torch.inference_mode():
        for forward in forwards.values():
            forward(images)
        for turn in range(rounds):
            for name in forwards if turn % 2 == 0 else reversed(list(forwards)):
                start = time.perf_counter()
                forwards[name](images)
                samples[name].append(time.perf_counter() - start)
            medians = {name: statistics.median(times) for name, times in samples.items()}
            leader = min(medians, key=medians.__getitem__)
            if all(
                medians[leader] * (1 + CLEAR_LEAD) < min(times)
                for name, times in samples.items()
                if name != leader
            ):
                break
    return {name: statistics.median(times) for name, times in samples.items()}


# -------------------------------------------------------------------------------------------------- choice
@dataclass
class EnginePlan:
    """What `plan_engine` found before any PyTorch network is built."""

    mode: str  # auto or openvino
    source: str  # where the mode came from (--kernels, $HUMANPARSE_KERNELS, default)
    input_shape: Tuple[int, ...]
    precision: str
    identity: Dict[str, str]  # of the decision
    ir_identity: Optional[Dict[str, str]]  # of the converted network (None: a given module, not cached)
    decision: Optional[EngineDecision]


def plan_engine(
    spec: ModelSpec, mode: str, source: str, input_shape: Sequence[int], precision: str
) -> EnginePlan:
    """The cached decision and where the converted network of `spec` would be cached."""
    assert spec.config is not None
    recipe = recipe_digest(spec.config, spec.model)
    identity = decision_identity(recipe, input_shape, precision)
    ir_identity = None
    if spec.model is None and spec.weights is not None:
        from humanparse.zoo import resolve_weights

        ir_identity = weights_identity(resolve_weights(spec.weights), recipe)
    decision = read_decision(identity) if mode == "auto" else None
    return EnginePlan(mode, source, tuple(input_shape), precision, identity, ir_identity, decision)


def _openvino_network(forward: Forward, spec: ModelSpec, choice: KernelChoice) -> Network:
    return Network(forward, torch.device("cpu"), spec.source, None, choice)


def _choice(
    plan: EnginePlan, source: str, reason: str, timings: Optional[Dict[str, float]] = None
) -> KernelChoice:
    return KernelChoice(
        plan.mode, False, (), f"{reason} ({plan.precision})", source, timings_ms=timings or {}, engine=ENGINE
    )


def cached_network(plan: EnginePlan, spec: ModelSpec) -> Optional[Network]:
    """The compiled network straight from the cache, when OpenVINO is decided (or forced) and its IR is cached:
    the checkpoint is never loaded into PyTorch. None otherwise."""
    wanted = plan.mode == ENGINE or (plan.decision is not None and plan.decision.engine == ENGINE)
    ir = cached_ir(plan.ir_identity) if wanted else None
    if ir is None:
        return None
    start = time.perf_counter()
    compiled = _compile(ir, plan.precision)
    if compiled is None:
        return None
    if plan.decision is not None:
        reason = plan.decision.reason()
    else:
        reason = f"forced by {plan.source}={plan.mode}"
    choice = _choice(plan, "cache" if plan.decision else "forced", f"{reason}; IR {ir}")
    choice.seconds = time.perf_counter() - start
    return _openvino_network(compiled_forward(compiled, str(spec.source)), spec, choice)


def _compile(model, precision: str):
    """`model` compiled for the CPU with torch's thread count, or None (logged) when OpenVINO fails on it; a
    cached IR keeps the plugin's compiled kernels beside it."""
    blobs = model.parent / "blobs" if isinstance(model, Path) else None
    try:
        return compile_openvino(model, torch.get_num_threads(), precision, blobs)
    except Exception as error:  # OpenVINO's own RuntimeErrors, or a broken install: PyTorch runs the network
        _logger.warning(
            "OpenVINO cannot compile the network, PyTorch runs it: %s", str(error).splitlines()[0]
        )
        return None


def _converted(plan: EnginePlan, model: nn.Module, output: str):
    """The network converted by OpenVINO now, and cached where it can be (the IR's path, else the ov.Model);
    None (logged) when OpenVINO cannot take it."""
    try:
        ov_model = convert(model, output, plan.input_shape)
    except Exception as error:  # an operation the tracer or OpenVINO does not take, or a broken install
        _logger.warning(
            "OpenVINO cannot convert the network, PyTorch runs it: %s", str(error).splitlines()[0]
        )
        return None
    if plan.ir_identity is not None:
        saved = save_ir(ov_model, plan.ir_identity)
        if saved is not None:
            return saved
    return ov_model


def choose_engine(plan: EnginePlan, network: Network, spec: ModelSpec, output: str) -> Network:
    """`network` (the prepared PyTorch one) or its OpenVINO compilation, whichever `plan` decides or the timing
    shows faster (see the module)."""
    model = network.model
    assert model is not None and network.kernels is not None
    if plan.precision == "bf16" and plan.mode == "auto" and _has_layer_norm(model):
        return network
    if plan.decision is not None and plan.decision.engine != ENGINE:
        return _kept_torch(network, f"cache: {plan.decision.reason()}")
    start = time.perf_counter()
    converted = cached_ir(plan.ir_identity)
    if converted is None:  # seconds of conversion (and timing): say why the start is slow
        _logger.warning(
            "note: compiling %s with OpenVINO%s; done once, cached in %s",
            spec.source,
            " and timing it against PyTorch" if plan.decision is None and plan.mode != ENGINE else "",
            cache_dir(),
        )
        converted = _converted(plan, model, output)
    compiled = None if converted is None else _compile(converted, plan.precision)
    if compiled is None:
        return network
    forward = compiled_forward(compiled, str(spec.source))
    if plan.mode == ENGINE:
        choice = _choice(plan, "forced", f"forced by {plan.source}={plan.mode}")
    elif plan.decision is not None:  # decided before; the IR was missing
        choice = _choice(plan, "cache", plan.decision.reason())
    else:
        seconds = time_engines({"torch": network.forward, ENGINE: forward}, plan.input_shape)
        decision = EngineDecision(
            ENGINE if seconds[ENGINE] < seconds["torch"] * (1 - MARGIN) else "torch",
            1000 * seconds["torch"],
            1000 * seconds[ENGINE],
        )
        write_decision(plan.identity, decision)
        _logger.warning("note: %s", decision.reason())
        if decision.engine != ENGINE:
            return _kept_torch(network, f"measured: {decision.reason()}")
        choice = _choice(
            plan, "measured", decision.reason(), {"torch": decision.torch_ms, ENGINE: decision.openvino_ms}
        )
    choice.seconds = time.perf_counter() - start
    return _openvino_network(forward, spec, choice)


def _kept_torch(network: Network, reason: str) -> Network:
    assert network.kernels is not None
    network.kernels.reason = f"{network.kernels.reason}; {reason}"
    return network


def _has_layer_norm(model: nn.Module) -> bool:
    return any(isinstance(module, nn.LayerNorm) for module in model.modules())


__all__ = [
    "ENGINE",
    "EngineDecision",
    "EnginePlan",
    "cached_network",
    "choose_engine",
    "convert",
    "engine_candidate",
    "openvino_installed",
    "plan_engine",
    "time_engines",
]
