"""Deployment on CPUs (and GPUs through ONNX Runtime): runtimes, self-describing model files, int8 quantization.

* `runtimes`: forward functions of ONNX files (ONNX Runtime) and OpenVINO IR files;
* `metadata`: the recipe stored in an exported file, and `config_from_model_file` to read it back;
* `quantize`: post-training static int8 quantization with NNCF (OpenVINO) or ONNX Runtime's quantizer.

Heavy runtimes are imported inside functions; `extras` turns a missing one into a one-line ConfigError.
"""

from humanparse.deploy.metadata import config_from_model_file

__all__ = ["config_from_model_file"]
