"""Mask specs (`NAME=CLASS[,CLASS...]`) against class names, groups, and 0/255 masks of label maps."""

from __future__ import annotations

import numpy as np
import pytest

from humanparse.data.labels import get_label_set
from humanparse.errors import ConfigError
from humanparse.inference.masks import MaskSpec, compute_mask, parse_mask_spec, parse_mask_specs

LIP = get_label_set("lip").classes


def test_spec_resolves_names_case_and_dash_insensitively():
    spec = parse_mask_spec("clothes=Upper-Clothes, coat,pants,coat", LIP)
    assert spec == MaskSpec("clothes", (LIP.index("upper_clothes"), LIP.index("coat"), LIP.index("pants")))


def test_foreground_group_is_every_class_but_background():
    assert parse_mask_spec("person=foreground", LIP).classes == tuple(range(1, 20))
    assert parse_mask_spec("all=background,foreground", LIP).classes == tuple(range(20))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("clothes", "not NAME=CLASS"),
        ("clothes=", "not NAME=CLASS"),
        ("=hair", "mask name"),
        ("../x=hair", "mask name"),
        ("hairs=hairr", "unknown class 'hairr'"),
        ("hair=hair,,face", "empty class name"),
    ],
)
def test_bad_specs_raise_one_line_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parse_mask_spec(spec, LIP)
    assert "\n" not in str(raised.value)


def test_duplicate_names_are_refused():
    assert [m.name for m in parse_mask_specs(["a=hair", "b=face"], LIP)] == ["a", "b"]
    with pytest.raises(ConfigError, match="given twice"):
        parse_mask_specs(["a=hair", "a=face"], LIP)


def test_mask_is_255_on_the_classes_and_0_elsewhere():
    labels = np.array([[0, 2, 13], [5, 2, 0]], dtype=np.uint8)
    mask = compute_mask(labels, (2, 13))
    assert mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, [[0, 255, 255], [0, 255, 0]])
    np.testing.assert_array_equal(compute_mask(labels, ()), np.zeros_like(labels))


def test_predict_and_serve_encode_a_mask_the_same_way(tmp_path):
    """One encoding: the mask PNG `predict` writes is the bytes the server answers."""
    from pathlib import Path

    from humanparse.inference.masks import mask_png
    from humanparse.inference.pipeline import OutputSpec
    from humanparse.inference.prediction_io import PhotoItem

    labels = np.array([[0, 2, 13], [5, 2, 0]], dtype=np.uint8)
    spec = OutputSpec(class_names=tuple(LIP), masks=(parse_mask_spec("m=hair,face", LIP),))
    spec.write(tmp_path, PhotoItem(Path("x.jpg"), "x"), labels)
    assert (tmp_path / "x_m.png").read_bytes() == mask_png(compute_mask(labels, (2, 13)))
