"""Targets of the "Performance and deployment" issue, against which the scripts print PASS or MISS."""

SPEEDUP_TARGETS = {"fp32": 1.2, "bf16": 2.0, "fp16": 2.0}  # inference speed-up over the reference
TRAIN_SPEEDUP_TARGET = 1.1
BF16_MAX_RELATIVE_ERROR = 2e-2
BF16_MIN_ARGMAX_AGREEMENT = 0.999  # on a trained model's validation images (issue 23: >= 99.9% labels equal)
TTA_MAX_RATIO = 1.0  # multi-scale + flip prediction against the sum of its forward passes
