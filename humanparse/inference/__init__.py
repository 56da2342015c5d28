"""From a photo to labels: the one layer that predict, test, serve, quantize's calibration and tryon share.

    from humanparse.inference import Predictor, create_predictor, parse_mask_specs, compute_mask

* `predictor`: `Predictor`, a network (or a model file's forward function) with the recipe's test protocol;
* `tta`: the test-time protocols, scales and flip (`TestTimeAugmentation.from_config`, the one place it is built);
* `runtimes`: `build_network`, the one factory of the forward function from (ModelSpec, backend, device,
  precision); one module per runtime (torch, onnxruntime, openvino);
* `backends`: `create_predictor` / `create_network`, a command's CONFIG WEIGHTS through that factory;
* `metadata`: the recipe stored in model files; `masks`: `MaskSpec` and the mask encoding;
* `prediction_io`: inputs, output paths and file writing; `pipeline`: the streaming, resumable, sharded
  `humanparse predict`; `timing`: latency for `humanparse benchmark`.

The names below are imported lazily (as `humanparse`'s own), so importing one submodule loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Predictor": "humanparse.inference.predictor",
    "create_predictor": "humanparse.inference.backends",
    "create_network": "humanparse.inference.backends",
    "build_network": "humanparse.inference.runtimes",
    "ModelSpec": "humanparse.inference.runtimes",
    "Network": "humanparse.inference.runtimes",
    "TestTimeAugmentation": "humanparse.inference.tta",
    "MaskSpec": "humanparse.inference.masks",
    "parse_mask_specs": "humanparse.inference.masks",
    "compute_mask": "humanparse.inference.masks",
    "mask_png": "humanparse.inference.masks",
    "config_from_model_file": "humanparse.inference.metadata",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'humanparse.inference' has no attribute {name!r}")
