"""From a photo to labels: the one layer that predict, test, serve, quantize's calibration and tryon share.

* `predictor`: `Predictor`, a network (or a model file's forward function) with the recipe's test protocol;
* `tta`: the test-time protocols, scales and flip;
* `backends`: `create_predictor`, the one factory from (config, weights, backend, device, precision);
* `runtimes`: forward functions of model files on ONNX Runtime and OpenVINO; `metadata`: their stored recipe;
* `masks`: binary masks of class groups; `prediction_io`: inputs, output paths and file writing;
* `pipeline`: the streaming, resumable, sharded `humanparse predict`; `timing`: latency for `humanparse benchmark`.
"""
