"""The optional runtimes, imported on demand: a missing one is a one-line ConfigError naming the pip command."""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> the extra that installs it
EXTRAS = {"onnx": "onnx", "onnxruntime": "onnx", "openvino": "openvino", "nncf": "openvino"}


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` or raise ConfigError "`purpose` needs <module>: pip install 'humanparse[extra]'"."""
    from humanparse.errors import ConfigError

    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS[module]
        raise ConfigError(f"{purpose} needs {module}: pip install 'humanparse[{extra}]'") from error
