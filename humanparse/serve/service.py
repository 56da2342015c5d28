"""The model side of the server: one Predictor, its test-time variants, and the answers' encodings."""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from humanparse.errors import ConfigError
from humanparse.inference.masks import MaskSpec, compute_mask, mask_png, parse_mask_specs
from humanparse.inference.prediction_io import png_bytes
from humanparse.serve.uploads import UploadError
from humanparse.values import ScaleLimits, parse_flag, parse_scales

FORMATS = ("png", "json")
PARAMETERS = ("format", "scales", "flip", "mask")
SCALE_LIMITS = ScaleLimits(max_count=6, low=0.25, high=2.0)
"""A request's `scales`: stricter than the command line's "positive and finite", since every request shares the
server's cores: at most 6 passes, each between a quarter and twice the recipe's input size."""
_VARIANTS_KEPT = 16  # predictors for distinct (scales, flip) requests, least recently used dropped


@dataclass(frozen=True)
class ParseOptions:
    """What one parse request asks for; `key` is what must match for two requests to share a batch."""

    format: str = "png"
    scales: Optional[Tuple[float, ...]] = None
    flip: Optional[bool] = None
    masks: Tuple[MaskSpec, ...] = ()

    @property
    def key(self) -> Hashable:
        return (self.scales, self.flip)


def parse_options(params: Sequence[Tuple[str, str]], class_names: Sequence[str]) -> ParseOptions:
    """Options from the query string (and form fields); 422 for an unknown name or value."""
    values: Dict[str, List[str]] = {}
    for name, value in params:
        if name not in PARAMETERS:
            raise UploadError(422, f"unknown parameter {name!r}; parameters: {', '.join(PARAMETERS)}")
        values.setdefault(name, []).append(value)
    for name in ("format", "flip"):
        if len(values.get(name, [])) > 1:
            raise UploadError(422, f"parameter {name!r} is given more than once")
    fmt = values.get("format", ["png"])[0].lower()
    if fmt not in FORMATS:
        raise UploadError(422, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        flip = parse_flag(values["flip"][0], "flip") if "flip" in values else None
        scales = parse_scales(values["scales"], "scales", SCALE_LIMITS) if "scales" in values else None
        masks = tuple(parse_mask_specs(values.get("mask", []), class_names))
    except ConfigError as error:
        raise UploadError(422, str(error)) from error
    if fmt == "png" and len(masks) > 1:
        raise UploadError(422, "format=png answers one mask; ask several with format=json")
    return ParseOptions(fmt, scales, flip, masks)


class ParseService:
    """A loaded Predictor shared by every request, with variants for other test scales or flip."""

    def __init__(self, predictor, palette: Optional[str] = None) -> None:
        from humanparse.data.labels import default_palette

        self.predictor = predictor
        self.config = predictor.config
        self.class_names = tuple(predictor.class_names)
        self.palette_name = palette or default_palette(self.config.data.dataset)
        self._variants: OrderedDict[Hashable, Any] = OrderedDict({(None, None): predictor})
        self._lock = threading.Lock()

    def predictor_for(self, key: Hashable):
        """The Predictor of (scales, flip); variants share the base predictor's network."""
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
            scales, flip = key
            variant = self.predictor.with_tta(scales=scales, flip=flip)
            self._variants[key] = variant
            while len(self._variants) > _VARIANTS_KEPT:
                oldest = next(k for k in self._variants if k != (None, None))
                del self._variants[oldest]
            return variant

    def prepare(self, image: np.ndarray) -> Dict[str, Any]:
        """The network's input sample of a decoded BGR photo (run in the request's thread, so that resizing and
        normalising overlap the batch that is running, as in `humanparse predict`'s decoding workers); every
        (scales, flip) variant takes the same sample."""
        return self.predictor.preprocess(image)

    def run_batch(self, key: Hashable, samples: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        """Label maps of `prepare`d samples (run in the batcher's worker thread)."""
        labels, _ = self.predictor_for(key).predict_samples(list(samples))
        return labels

    def palette(self) -> np.ndarray:
        from humanparse.data.labels import get_palette

        return get_palette(self.palette_name)[: len(self.class_names)]

    def model_info(self) -> Dict[str, Any]:
        """What GET /v1/model answers."""
        evaluation = self.config.eval
        return {
            "name": self.config.name,
            "num_classes": len(self.class_names),
            "classes": list(self.class_names),
            "palette": self.palette().tolist(),
            "palette_name": self.palette_name,
            "protocol": evaluation.protocol,
            "input_size": list(evaluation.input_size),
            "scales": list(self.predictor.tta.scales),
            "flip": self.predictor.tta.flip,
            "groups": {"foreground": list(range(1, len(self.class_names)))},
        }

    def label_png(self, labels: np.ndarray) -> bytes:
        """The indexed label PNG (palette attached), as `humanparse predict` writes it."""
        from humanparse.data.io import label_png

        return png_bytes(label_png(labels, self.palette_name))

    def answer(self, labels: np.ndarray, options: ParseOptions) -> Tuple[bytes, str]:
        """(body, media type) of a parse answer."""
        import json

        if options.format == "png":
            if options.masks:
                return mask_png(compute_mask(labels, options.masks[0].classes)), "image/png"
            return self.label_png(labels), "image/png"
        counts = np.bincount(labels.ravel(), minlength=len(self.class_names))
        palette = self.palette()
        body: Dict[str, Any] = {
            "width": int(labels.shape[1]),
            "height": int(labels.shape[0]),
            "model": self.config.name,
            "classes": [
                {
                    "index": int(index),
                    "name": self.class_names[index],
                    "pixels": int(counts[index]),
                    "color": palette[index].tolist(),
                }
                for index in np.flatnonzero(counts[: len(self.class_names)])
            ],
            "labels": {"encoding": "png+base64", "data": _b64(self.label_png(labels))},
        }
        if options.masks:
            body["masks"] = {}
            for spec in options.masks:
                mask = compute_mask(labels, spec.classes)
                body["masks"][spec.name] = {
                    "classes": [self.class_names[i] for i in spec.classes],
                    "pixels": int(np.count_nonzero(mask)),
                    "encoding": "png+base64",
                    "data": _b64(mask_png(mask)),
                }
        return json.dumps(body, separators=(",", ":")).encode(), "application/json"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
