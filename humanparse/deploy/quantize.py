"""Post-training static int8 quantization of an exported network, calibrated on real photos.

The photos go through the recipe's own test transform (`build_val_transform`), so the calibration ranges are
those of the inputs the network sees in use. The quantizers are the runtimes' own: NNCF for OpenVINO (preset
MIXED: symmetric weights, asymmetric activations) and ONNX Runtime's `quantize_static` (QDQ, u8 activations,
s8 per-channel weights, `reduce_range` on CPUs without VNNI/AMX int8 dot products). The final classifiers
(the convolutions that produce the output) stay in float; OpenVINO also keeps the pyramid-pooling MatMuls in
float (its CPU plugin cannot compile them quantized) and a SegFormer's encoder convolutions (see quantize_openvino).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from humanparse.configs import Config
from humanparse.errors import ConfigError, DataError, HumanParseError
from humanparse.extras import require
from humanparse.inference.runtimes import Network
from humanparse.outputs import write_failure
from humanparse.temporaries import remove_stale_files, temporary_file, temporary_folder

QUANTIZE_BACKENDS = ("openvino", "onnxruntime")
SUFFIXES = {"openvino": ".xml", "onnxruntime": ".onnx"}
MAX_HELD_OUT = 50


def backend_for(out: Union[str, Path], backend: Optional[str]) -> str:
    """The quantization backend: the one given, else from the output suffix (.xml: openvino, else onnxruntime)."""
    if backend is None:
        backend = "openvino" if Path(out).suffix.lower() == ".xml" else "onnxruntime"
    if backend not in QUANTIZE_BACKENDS:
        raise ConfigError(f"unknown --backend {backend!r}; choose from {', '.join(QUANTIZE_BACKENDS)}")
    if Path(out).suffix.lower() != SUFFIXES[backend]:
        raise ConfigError(f"--out for --backend {backend} is a {SUFFIXES[backend]} file, got {out}")
    return backend


def split_photos(paths: Sequence[Path], num_images: int) -> Tuple[List[Path], List[Path]]:
    """Calibration photos (the first `num_images`) and held-out ones (the next, at most MAX_HELD_OUT); with too
    few photos the last fifth is held out."""
    if len(paths) < 2:
        raise DataError(
            f"calibration needs at least 2 photos (some are held out to check agreement), got {len(paths)}"
        )
    if num_images < 1:
        raise ConfigError(f"--num-images must be at least 1, got {num_images}")
    if len(paths) <= num_images:
        num_images = len(paths) - max(1, len(paths) // 5)
    return list(paths[:num_images]), list(paths[num_images : num_images + MAX_HELD_OUT])


def readable_photos(paths: Sequence[Path], needed: int) -> Tuple[List[Path], List[str]]:
    """The first `needed` photos of `paths` that decode, and the reasons the unreadable ones met on the way were
    skipped; checked before any work, so that no photo fails a run after its file was written."""
    from humanparse.data.io import read_image

    good: List[Path] = []
    skipped: List[str] = []
    for path in paths:
        if len(good) >= needed:
            break
        try:
            read_image(path)
        except DataError as error:
            skipped.append(str(error))
            continue
        good.append(Path(path))
    return good, skipped


def calibration_inputs(config: Config, paths: Sequence[Path]) -> List[np.ndarray]:
    """Each photo through the recipe's test transform: float32 (1, 3, H, W) network inputs."""
    from humanparse.data.io import read_image
    from humanparse.data.transforms import build_val_transform

    transform = build_val_transform(config)
    return [transform(read_image(path))["image"].unsqueeze(0).numpy() for path in paths]


def needs_dynamic_export(config: Config) -> bool:
    """Whether the recipe feeds the network several sizes (keep-ratio resizing or several test scales)."""
    return bool(config.eval.keep_ratio) or list(config.eval.scales) != [1.0]


def _output_convolutions(
    outputs: Iterable[Any], producers: Callable[[Any], Iterable[Any]], is_conv: Callable[[Any], bool]
) -> List[Any]:
    """The convolutions met first walking back from the outputs (the classifiers), whatever lies between."""
    found, seen, stack = [], set(), list(outputs)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if is_conv(node):
            found.append(node)
        else:
            stack.extend(producers(node))
    return found


def onnx_classifier_nodes(model_proto) -> List[str]:
    """Names of the Conv nodes of an ONNX graph that produce its outputs."""
    graph = model_proto.graph
    by_output = {name: node for node in graph.node for name in node.output}
    outputs = [by_output[o.name] for o in graph.output if o.name in by_output]
    convs = _output_convolutions(
        outputs,
        lambda node: [by_output[name] for name in node.input if name in by_output],
        lambda node: node.op_type == "Conv",
    )
    return sorted(node.name for node in convs)


def openvino_classifier_nodes(ov_model) -> List[str]:
    """Friendly names of the convolutions of an OpenVINO model that produce its outputs."""
    convs = _output_convolutions(
        ov_model.get_results(),
        lambda node: [value.get_node() for value in node.input_values()],
        lambda node: node.get_type_name() in ("Convolution", "GroupConvolution"),
    )
    return sorted(node.get_friendly_name() for node in convs)


def openvino_encoder_convolutions(ov_model) -> List[str]:
    """Friendly names of the convolutions of a SegFormer's MiT encoder (patch embeddings, sequence reduction,
    Mix-FFN depth-wise) in an OpenVINO model exported by humanparse (their names hold `/backbone/`)."""
    return sorted(
        op.get_friendly_name()
        for op in ov_model.get_ordered_ops()
        if op.get_type_name() in ("Convolution", "GroupConvolution")
        and "/backbone/" in op.get_friendly_name()
    )


def _temporary(out: Path, suffix: str) -> Path:
    """A fresh file name beside `out` (same file system, so os.replace is atomic) with the usual permissions;
    the leftovers of runs killed outright are removed first."""
    remove_stale_files(out)
    return temporary_file(out, suffix)


def quantize_onnxruntime(
    fp32_onnx: Path, out: Path, inputs: Sequence[np.ndarray], config: Config, keep_float: Sequence[str] = ()
) -> Dict[str, Any]:
    """ONNX Runtime QDQ int8 of `fp32_onnx`, calibrated (min/max) on `inputs`, written atomically to `out`.

    Returns what was done: `reduce_range`, `kept_float` (node names)."""
    onnx = require("onnx", "--backend onnxruntime quantization")
    require("onnxruntime", "--backend onnxruntime quantization")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from humanparse.hardware import cpu_has_int8_dot_product
    from humanparse.inference.metadata import add_onnx_metadata

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(inputs)

        def get_next(self) -> Optional[Dict[str, np.ndarray]]:
            item = next(self.items, None)
            return None if item is None else {input_name: item}

    reduce_range = not cpu_has_int8_dot_product()  # None (unknown) -> the safe choice
    # ORT's advised pre-processing: shape inference and graph optimisation (folds the export's size arithmetic)
    prepared = fp32_onnx.with_name(f"{fp32_onnx.stem}.prepared.onnx")
    quant_pre_process(str(fp32_onnx), str(prepared))
    prepared_proto = onnx.load(str(prepared))
    input_name = prepared_proto.graph.input[
        0
    ].name  # "image" in humanparse's files, "input.1" in OOTDiffusion's
    kept = sorted(set(onnx_classifier_nodes(prepared_proto)) | set(keep_float))
    temporary = _temporary(out, ".onnx")
    try:
        quantize_static(
            str(prepared),
            str(temporary),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=reduce_range,
            nodes_to_exclude=kept,
            calibrate_method=CalibrationMethod.MinMax,
        )
        details = {
            "quantizer": "onnxruntime QDQ u8/s8 per-channel",
            "reduce_range": reduce_range,
            "kept_float": kept,
        }
        proto = onnx.load(str(temporary))
        add_onnx_metadata(proto, config, {"humanparse.precision": "int8", "humanparse.quantization": details})
        onnx.save(proto, str(temporary))
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return details


def quantize_openvino(
    fp32_onnx: Path, out: Path, inputs: Sequence[np.ndarray], config: Config, keep_float: Sequence[str] = ()
) -> Dict[str, Any]:
    """NNCF int8 (preset MIXED) of `fp32_onnx` as an OpenVINO IR, calibrated on `inputs`, written atomically to
    `out` (.xml with its .bin). Returns what was done: `kept_float` (node names and types)."""
    openvino = require("openvino", "--backend openvino quantization")
    nncf = require("nncf", "--backend openvino quantization")
    from humanparse.inference.metadata import add_openvino_metadata

    model = openvino.convert_model(str(fp32_onnx))
    kept = sorted(set(openvino_classifier_nodes(model)) | set(keep_float))
    if config.model.arch == "segformer":
        # a transformer: NNCF's transformer scheme (SmoothQuant, float softmax/LayerNorm), its MatMuls in int8.
        # The encoder's convolutions stay float: quantized, they left 84% of a trained B0's labels equal to fp32
        # (ONNX Runtime's int8 of the same convolutions: 99.87%); the head's 1x1 fuse conv stays int8
        encoder = openvino_encoder_convolutions(model)
        options = {"model_type": nncf.ModelType.TRANSFORMER}
        ignored = nncf.IgnoredScope(names=kept + encoder, validate=False)
        summary = f"the MiT encoder's {len(encoder)} convolutions"
        details = {"quantizer": "nncf preset MIXED, model_type TRANSFORMER", "kept_float": kept + [summary]}
    else:
        options = {}
        # the CPU plugin cannot compile quantized pyramid-pooling MatMuls (dnnl_postops_composer scale check)
        ignored = nncf.IgnoredScope(names=kept, types=["MatMul"], validate=False)
        details = {"quantizer": "nncf preset MIXED", "kept_float": kept + ["MatMul"]}
    quantized = nncf.quantize(
        model,
        nncf.Dataset(list(inputs)),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(inputs),
        ignored_scope=ignored,
        **options,
    )
    add_openvino_metadata(
        quantized, config, {"humanparse.precision": "int8", "humanparse.quantization": details}
    )
    temporary = _temporary(out, ".xml")
    weights = temporary.with_suffix(".bin")
    try:
        openvino.save_model(quantized, str(temporary), compress_to_fp16=False)
        os.replace(weights, out.with_suffix(".bin"))
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
        weights.unlink(missing_ok=True)
    return details


QUANTIZERS = {"onnxruntime": quantize_onnxruntime, "openvino": quantize_openvino}


def label_agreement(reference, candidate, paths: Sequence[Path]) -> float:
    """Share of label pixels on which two Predictors agree over `paths` (at the photos' sizes); a photo that
    cannot be read is left out (the file is written by then: nothing may fail the run)."""
    equal = total = 0
    for path in paths:
        try:
            a, b = reference(path), candidate(path)
        except DataError:
            continue
        equal += int((a == b).sum())
        total += a.size
    return equal / total if total else float("nan")


@dataclass
class QuantizeReport:
    """What `quantize` did and measured."""

    out: Path
    backend: str
    calibration_images: int
    held_out_images: int
    agreement: float
    details: Dict[str, Any] = field(default_factory=dict)
    miou: Dict[str, float] = field(default_factory=dict)  # "fp32", "int8" with a validation set
    skipped: List[str] = field(default_factory=list)  # unreadable photos of --calib, with the reason
    warnings: List[str] = field(default_factory=list)  # checks after writing that could not be done

    def lines(self) -> List[str]:
        kept = ", ".join(self.details.get("kept_float", [])) or "none"
        lines = [
            f"wrote {self.out} (int8, {self.details.get('quantizer')}, calibrated on {self.calibration_images} photos)",
            f"kept in float: {kept}",
            f"label agreement with fp32 on {self.held_out_images} held-out photos: {100 * self.agreement:.2f}%",
        ]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} unreadable photo(s), e.g. {self.skipped[0]}")
        lines += [f"warning: {warning}" for warning in self.warnings]
        if self.miou:
            lines.append(
                f"validation mIoU: fp32 {self.miou['fp32']:.2f}, int8 {self.miou['int8']:.2f} "
                f"({self.miou['int8'] - self.miou['fp32']:+.2f} points)"
            )
        return lines


def _require_quantizer(backend: str) -> None:
    require("onnx", "quantization")  # the fp32 export comes first
    require("onnxruntime", "quantization")
    if backend == "openvino":
        require("openvino", "--backend openvino quantization")
        require("nncf", "--backend openvino quantization")


def quantize_model(
    config: Config,
    model: torch.nn.Module,
    calibration: Sequence[Path],
    out: Union[str, Path],
    backend: str,
    dynamic: Optional[bool] = None,
) -> Dict[str, Any]:
    """Export `model` (fp32, checked), quantize it for `backend` calibrated on the `calibration` photos and write
    it atomically to `out`. `dynamic` None: only when the recipe needs several input sizes. Returns the details."""
    from humanparse.deploy.export import export_onnx

    out = Path(out)
    _require_quantizer(backend)
    dynamic = needs_dynamic_export(config) if dynamic is None else dynamic
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with temporary_folder("humanparse-quantize") as folder:
            fp32_onnx = Path(folder) / "fp32.onnx"
            export_onnx(model, fp32_onnx, tuple(config.eval.input_size), dynamic=dynamic, config=config)
            return QUANTIZERS[backend](fp32_onnx, out, calibration_inputs(config, calibration), config)
    except (OSError, RuntimeError) as failure:
        reason = write_failure(failure)
        if isinstance(failure, OSError) or "no space left" in reason.lower():
            raise ConfigError(f"cannot write {out}: {reason}") from failure
        raise


def quantize(
    config: Config,
    checkpoint: Union[str, Path],
    photos: Sequence[Path],
    out: Union[str, Path],
    *,
    backend: Optional[str] = None,
    num_images: int = 100,
    val_root: Optional[Union[str, Path]] = None,
    dynamic: Optional[bool] = None,
    progress: bool = False,
) -> QuantizeReport:
    """Quantize `checkpoint` to int8 for `backend`, calibrated on `photos`, and measure it against fp32."""
    from humanparse.inference.predictor import Predictor
    from humanparse.inference.runtimes import ModelSpec, build_network
    from humanparse.models.weights import load_for_inference

    out = Path(out)
    backend = backend_for(out, backend)
    _require_quantizer(backend)
    if num_images < 1:
        raise ConfigError(f"--num-images must be at least 1, got {num_images}")
    # every check before the work: after the file is written, nothing may fail the run
    readable, skipped = readable_photos(photos, num_images + MAX_HELD_OUT)
    if len(readable) < 2 and skipped:
        raise DataError(
            f"calibration needs at least 2 readable photos, got {len(readable)} ({len(skipped)} unreadable, "
            f"e.g. {skipped[0]})"
        )
    calibration, held_out = split_photos(readable, num_images)
    val_dataset = _validation_dataset(config, val_root) if val_root is not None else None
    model = load_for_inference(config, checkpoint)
    config = model.config  # the recipe, with the network a Hugging Face folder's config.json describes
    details = quantize_model(config, model, calibration, out, backend, dynamic)
    report = QuantizeReport(
        out, backend, len(calibration), len(held_out), float("nan"), details, skipped=skipped
    )
    try:
        # both sides through the one factory: the fp32 network as `predict` runs it, the int8 file on its runtime
        fp32 = Predictor(config, network=build_network(ModelSpec(config, checkpoint, model)))
        int8 = Predictor(config, network=build_network(ModelSpec(config, out), backend))
        report.agreement = label_agreement(fp32, int8, held_out)
        if val_dataset is not None:
            report.miou = _validation_miou(config, val_dataset, fp32.network, int8.network, progress)
    except HumanParseError as error:  # the file is written by now: nothing may fail the run
        report.warnings.append(f"the written file could not be checked: {error}")
    return report


def quantize_model_file(
    path: Union[str, Path],
    photos: Sequence[Path],
    out: Union[str, Path],
    *,
    backend: Optional[str] = None,
    num_images: int = 100,
) -> QuantizeReport:
    """Quantize a third-party ONNX file (OOTDiffusion's `parsing_atr.onnx` / `parsing_lip.onnx`) to int8.

    Its graph is cut to the output that holds the logits (fusion), calibrated on `photos` through its recipe's
    test transform, written with that recipe inside, and measured against the file itself (fp32).
    """
    from humanparse.configs import load_config
    from humanparse.inference.predictor import Predictor
    from humanparse.inference.runtimes import ModelSpec, build_network
    from humanparse.inference.thirdparty import INPUT_NAME, identify

    known = identify(path)
    if known is None:
        raise ConfigError(
            f"{path}: not a file humanparse can quantize on its own (OOTDiffusion's parsing_atr.onnx / "
            "parsing_lip.onnx); give a config and its checkpoint"
        )
    onnx = require("onnx", "quantization")
    config = load_config(known.recipe)
    out = Path(out)
    backend = backend_for(out, backend)
    _require_quantizer(backend)
    readable, skipped = readable_photos(photos, num_images + MAX_HELD_OUT)
    calibration, held_out = split_photos(readable, num_images)
    out.parent.mkdir(parents=True, exist_ok=True)
    with temporary_folder("humanparse-quantize") as folder:
        fp32_onnx = Path(folder) / "fp32.onnx"
        proto = onnx.load(str(path))
        logits = proto.graph.output[known.output_index].name
        del proto
        from onnx.utils import extract_model

        extract_model(str(path), str(fp32_onnx), [INPUT_NAME], [logits])
        _raise_opset(onnx, fp32_onnx, MIN_QDQ_OPSET)
        details = QUANTIZERS[backend](fp32_onnx, out, calibration_inputs(config, calibration), config)
    details["source"] = f"{Path(path).name} ({known.recognised_by})"
    report = QuantizeReport(
        out, backend, len(calibration), len(held_out), float("nan"), details, skipped=skipped
    )
    try:  # the file itself (fp32, its fusion output) against the int8 file
        fp32 = Predictor(
            config, network=build_network(ModelSpec(config, path, output=known.output_index), "onnxruntime")
        )
        int8 = Predictor(config, network=build_network(ModelSpec(config, out), backend))
        report.agreement = label_agreement(fp32, int8, held_out)
    except HumanParseError as error:  # the file is written by now: nothing may fail the run
        report.warnings.append(f"the written file could not be checked: {error}")
    return report


MIN_QDQ_OPSET = 13  # per-channel QDQ needs DequantizeLinear's axis


def _raise_opset(onnx, path: Path, opset: int) -> None:
    """Convert the ONNX file at `path` to at least `opset` (the published files may be older), in place."""
    proto = onnx.load(str(path))
    current = next((entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx")), opset)
    if current >= opset:
        return
    from onnx import version_converter

    try:
        onnx.save(version_converter.convert_version(proto, opset), str(path))
    except Exception as error:  # an operator the converter does not know
        raise ConfigError(
            f"cannot bring the ONNX graph from opset {current} to {opset} for int8: {error}"
        ) from error


def _validation_dataset(config: Config, root):
    from humanparse.data.datasets import build_dataset

    config = Config.from_dict(config.to_dict())
    config.data.root = str(root)
    return build_dataset(config, config.data.val_split, train=False)


def _validation_miou(
    config: Config, dataset, fp32: Network, int8: Network, progress: bool
) -> Dict[str, float]:
    from humanparse.engine.evaluator import evaluate

    fp32_miou = evaluate(None, config, dataset, network=fp32, progress=progress)["mIoU"]
    int8_miou = evaluate(None, config, dataset, network=int8, progress=progress)["mIoU"]
    return {"fp32": 100 * fp32_miou, "int8": 100 * int8_miou}
