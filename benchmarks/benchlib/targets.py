"""Targets of the "Performance and deployment" issue, against which the scripts print PASS or MISS."""

SPEEDUP_TARGETS = {"fp32": 1.2, "bf16": 2.0, "fp16": 2.0}  # inference speed-up over the reference
TRAIN_SPEEDUP_TARGET = 1.1
BF16_MAX_RELATIVE_ERROR = 2e-2
BF16_MIN_ARGMAX_AGREEMENT = 0.999  # on a trained model's validation images (issue 23: >= 99.9% labels equal)
TTA_MAX_RATIO = 1.0  # multi-scale + flip prediction against the sum of its forward passes

# issue 23 ("Fast on every CPU"): whole `predict` processes against the reference scripts, process start included
PROCESS_SPEEDUP_TARGETS = {"fp32": 1.5, "bf16": 2.0}
INT8_PROCESS_SPEEDUP_TARGETS = {"vnni": 3.0, "other": 2.5}  # with / without int8 dot products (VNNI, AMX)
FP32_MIN_LABEL_EQUALITY = 0.999  # share of label pixels equal to the reference's
