"""What writes model files: ONNX export (`export`) and post-training int8 quantization (`quantize`).

Heavy runtimes are imported inside functions; `humanparse.extras.require` turns a missing one into a one-line
ConfigError. Running those files is `humanparse.inference`'s job.
"""
