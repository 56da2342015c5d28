"""The test-time values a user gives are checked in one place, with one rule each."""

from __future__ import annotations

import math

import pytest

from humanparse.errors import ConfigError
from humanparse.values import (
    PROTOCOLS,
    ScaleLimits,
    check_choice,
    check_scales,
    parse_flag,
    parse_scales,
)


def test_scales_are_positive_and_finite_everywhere():
    assert check_scales([0.5, 1]) == (0.5, 1.0)
    for bad in ([], [0.0], [-1.0], [math.nan], [math.inf]):
        with pytest.raises(ConfigError, match="positive finite"):
            check_scales(bad)


def test_a_stricter_front_end_says_so_through_its_limits():
    limits = ScaleLimits(max_count=2, low=0.5, high=1.5)
    assert check_scales([0.5, 1.5], "scales", limits) == (0.5, 1.5)
    for bad in ([0.25], [1.0, 1.0, 1.0], [math.nan], []):
        with pytest.raises(ConfigError, match=r"scales takes 1 to 2 numbers in \[0.5, 1.5\]"):
            check_scales(bad, "scales", limits)


def test_scales_and_flags_as_text():
    assert parse_scales(["0.75,1", " 1.25 "]) == (0.75, 1.0, 1.25)
    with pytest.raises(ConfigError, match="numbers separated by commas"):
        parse_scales(["1,big"])
    assert parse_flag("Yes", "flip") is True and parse_flag("off", "flip") is False
    with pytest.raises(ConfigError, match="flip must be true or false"):
        parse_flag("maybe", "flip")


def test_one_list_of_protocols_for_the_transforms_and_the_tta():
    from humanparse.data import transforms
    from humanparse.inference import tta

    assert check_choice("eval.protocol", "affine", PROTOCOLS) == "affine"
    with pytest.raises(ConfigError, match="unknown eval.protocol 'sliding'; choose from resize, affine"):
        check_choice("eval.protocol", "sliding", PROTOCOLS)
    assert tta.PROTOCOLS is PROTOCOLS and transforms.PROTOCOLS is PROTOCOLS  # imported, never redefined


def test_a_recipe_with_an_infinite_scale_is_refused_when_loaded():
    from humanparse.configs import get_config

    with pytest.raises(ConfigError, match="eval.scales=.*finite"):
        get_config("ce2p_tiny_synthetic").override(["eval.scales=[1, .inf]"])
