"""Self-describing model files: the recipe, classes, palette, normalisation and test protocol stored inside an
exported ONNX or OpenVINO IR file, so that `predict model.onnx photos/` needs no config.

The full config is stored as JSON under ``humanparse.config`` (what `config_from_model_file` reads); the other
keys repeat its deployment-relevant parts in plain words for people and other tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional, Union

from humanparse.configs import Config
from humanparse.errors import CheckpointError, HumanParseError, first_meaningful_line

CONFIG_KEY = "humanparse.config"
RT_INFO_SECTION = "humanparse"  # OpenVINO IR: rt_info["humanparse"][key without the prefix]
OPENVINO_SUFFIX = ".xml"

_CHANNEL_ORDER = {"rgb": "RGB", "bgr_rgb_stats": "BGR", "bgr": "BGR", "rgb_01": "RGB"}


def normalization_description(mode: str) -> Dict[str, Any]:
    """What the network expects: channel order, and per channel (in that order) `(pixel * scale - mean) / std`."""
    from humanparse.data.transforms import normalize

    if mode == "rgb":
        return {
            "channel_order": "RGB",
            "scale": 1.0,
            "mean": [float(v) for v in normalize._MEAN_255],
            "std": [float(v) for v in normalize._STD_255],
        }
    mean, std = (
        (normalize._MEAN_01, normalize._STD_01)
        if mode in ("bgr_rgb_stats", "rgb_01")
        else (
            normalize._MEAN_01[::-1],
            normalize._STD_01[::-1],
        )
    )
    return {"channel_order": _CHANNEL_ORDER[mode], "scale": 1 / 255, "mean": list(mean), "std": list(std)}


def model_metadata(config: Config, extra: Optional[Dict[str, Any]] = None) -> Dict[str, str]:
    """String key -> string value (JSON for structured values) describing `config` for a model file; `extra`
    adds keys (e.g. ``humanparse.precision``)."""
    from humanparse.data.labels import dataset_classes, default_palette, get_palette

    classes = dataset_classes(config.data)
    palette = get_palette(default_palette(config.data.dataset), classes.num_classes)
    values = {
        CONFIG_KEY: config.to_dict(),
        "humanparse.config_name": config.name,
        "humanparse.classes": list(classes.class_names),
        "humanparse.palette": palette.tolist(),
        "humanparse.flip_pairs": [list(pair) for pair in classes.flip_pairs],
        "humanparse.normalization": normalization_description(config.data.normalization),
        "humanparse.input": "image: float32 (N, 3, H, W), normalised as humanparse.normalization",
        "humanparse.output": "seg: float32 logits (N, K, h, w) at about 1/4 of the input; upsample, then argmax",
        "humanparse.test_protocol": {
            "protocol": config.eval.protocol,
            "scales": list(config.eval.scales),
            "flip": config.eval.flip,
            "keep_ratio": config.eval.keep_ratio,
            "align_corners": config.train.align_corners,
        },
        "humanparse.input_size": list(config.eval.input_size),
        "humanparse.precision": "fp32",
        **(extra or {}),
    }
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def add_onnx_metadata(model_proto, config: Config, extra: Optional[Dict[str, Any]] = None) -> None:
    """Set the `model_metadata` of `config` on an in-memory `onnx.ModelProto` (replacing older values)."""
    entries = model_metadata(config, extra)
    kept = [prop for prop in model_proto.metadata_props if prop.key not in entries]
    del model_proto.metadata_props[:]
    model_proto.metadata_props.extend(kept)
    for key, value in entries.items():
        prop = model_proto.metadata_props.add()
        prop.key, prop.value = key, value


def add_openvino_metadata(ov_model, config: Config, extra: Optional[Dict[str, Any]] = None) -> None:
    """Set the `model_metadata` of `config` in an `openvino.Model`'s rt_info (saved with the IR)."""
    for key, value in model_metadata(config, extra).items():
        ov_model.set_rt_info(value, [RT_INFO_SECTION, key.split(".", 1)[1]])


def read_metadata(path: Union[str, Path]) -> Dict[str, str]:
    """The humanparse keys stored in an ONNX file or an OpenVINO IR (.xml); {} when it has none."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    if path.suffix.lower() == OPENVINO_SUFFIX:
        return _openvino_metadata(path)
    from humanparse.extras import require

    onnx = require("onnx", "reading an ONNX file's metadata")
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:
        raise CheckpointError(f"{path}: not a readable ONNX file ({first_meaningful_line(error)})") from error
    return {prop.key: prop.value for prop in proto.metadata_props if prop.key.startswith("humanparse.")}


def _openvino_metadata(path: Path) -> Dict[str, str]:
    from humanparse.extras import require

    openvino = require("openvino", "reading an OpenVINO model")
    try:
        model = openvino.Core().read_model(str(path))
    except Exception as error:
        raise CheckpointError(f"{path}: OpenVINO cannot read it ({first_meaningful_line(error)})") from error
    if not model.has_rt_info([RT_INFO_SECTION, CONFIG_KEY.split(".", 1)[1]]):
        return {}
    section = model.get_rt_info()[RT_INFO_SECTION]
    return {f"{RT_INFO_SECTION}.{key}": section[key].astype(str) for key in section}


def config_from_model_file(path: Union[str, Path]) -> Config:
    """The recipe stored in a file written by `humanparse export` or `humanparse quantize`."""
    metadata = read_metadata(path)
    if CONFIG_KEY not in metadata:
        raise CheckpointError(
            f"{path}: the file does not describe its recipe (exported by another tool or an older humanparse); "
            "give the config"
        )
    try:
        stored = json.loads(metadata[CONFIG_KEY])
    except RecursionError:
        raise CheckpointError(f"{path}: its stored config is nested too deeply to be a config") from None
    except ValueError as error:
        raise CheckpointError(f"{path}: its stored config is not JSON ({error})") from None
    try:
        # the same checks as a config on the command line (sizes, scales, types)
        return Config.from_dict(stored)
    except (HumanParseError, ValueError, KeyError, TypeError, RecursionError) as error:
        raise CheckpointError(f"{path}: its stored config cannot be used ({error})") from None
