"""Train and validation transforms of every recipe, and CSENet's batch mixup.

`build_train_transform(config)` returns a callable `t(image_bgr_uint8, label_uint8, rng)` giving the sample dict
(image, label, edge, [hgt, wgt], meta); `build_val_transform(config)` returns `t(image_bgr_uint8, label_or_None)`
giving the image at the test protocol's input size and the label at its original size. All randomness comes from
the numpy Generator passed in, so a seeded generator reproduces a sample.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

import numpy as np

from humanparse.data.labels import dataset_classes
from humanparse.data.transforms.affine import AffineTrainTransform
from humanparse.data.transforms.mixup import MIXUP_KEY, BatchMixup, build_batch_augmentation, mix_batch
from humanparse.data.transforms.sssegmentation import SSSegTrainTransform
from humanparse.data.transforms.test_time import (
    FIXED_RESIZE_PROTOCOLS,
    AffineValTransform,
    FixedResizeValTransform,
    ResizeValTransform,
)
from humanparse.errors import ConfigError
from humanparse.values import PIPELINES, PROTOCOLS, check_choice

__all__ = [
    "MIXUP_KEY",
    "BatchMixup",
    "build_batch_augmentation",
    "build_train_transform",
    "build_val_transform",
    "mix_batch",
]

TrainTransform = Callable[[np.ndarray, np.ndarray, np.random.Generator], Dict[str, Any]]
ValTransform = Callable[..., Dict[str, Any]]


def build_train_transform(config) -> TrainTransform:
    """The train augmentation `config.data.pipeline` names, with the dataset's classes and flip pairs."""
    pipeline = check_choice("data.pipeline", config.data.pipeline, PIPELINES)
    classes = dataset_classes(config.data)
    if pipeline == "affine":
        return AffineTrainTransform(config.data, classes.num_classes, classes.flip_pairs)
    if config.data.class_distribution:
        raise ConfigError(
            f"data.class_distribution needs data.pipeline='affine' (the CDGNet/CSENet recipe), not {pipeline!r}"
        )
    return SSSegTrainTransform(config.data, classes.num_classes, classes.flip_pairs)


def build_val_transform(config) -> ValTransform:
    """The validation transform of `config.eval.protocol` (`resize`, `affine`, `fashn_parser`,
    `segformer_processor`)."""
    evaluation = config.eval
    check_choice("eval.protocol", evaluation.protocol, PROTOCOLS)
    if evaluation.protocol in FIXED_RESIZE_PROTOCOLS:
        return FixedResizeValTransform(evaluation.input_size, evaluation.protocol, config.data.normalization)
    if evaluation.protocol == "affine":
        return AffineValTransform(
            evaluation.input_size, config.data.normalization, evaluation.affine_convention
        )
    return ResizeValTransform(
        evaluation.input_size,
        evaluation.keep_ratio,
        evaluation.keep_ratio_size,
        config.data.normalization,
    )
