"""'Did you mean': ranked by similarity, and used wherever a name is looked up."""

from __future__ import annotations

import pytest

from humanparse.errors import CheckpointError, ConfigError
from humanparse.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    "typed", ["ce2p_resnet101_os8_lip", "ce2p_resnet101os8_lipp", "CE2P-resnet101os8-lip"]
)
def test_closest_config_comes_first(typed):
    from humanparse.configs import get_config

    with pytest.raises(ConfigError, match=r"did you mean ce2p_resnet101os8_lip[,?]"):
        get_config(typed)


def test_ranking_is_by_similarity_not_prefix():
    known = ["abc_one", "abc_two", "zzz_target_name"]
    assert closest("zzz_target_nam", known) == ["zzz_target_name"]
    assert closest("abc_twoo", known)[0] == "abc_two"
    assert did_you_mean("nothing_alike_at_all", known) == ""


def test_config_key_mask_class_and_zoo_name_suggest():
    from humanparse.configs import get_config
    from humanparse.inference.masks import parse_mask_specs
    from humanparse import zoo

    with pytest.raises(ConfigError, match=r"unknown config key 'train\.lrr'; did you mean lr"):
        get_config("ce2p_tiny_synthetic").override(["train.lrr=0.1"])
    classes = ("background", "hat", "hair", "upper_clothes", "coat")
    with pytest.raises(ConfigError, match=r"unknown class 'uper_clothes'; did you mean upper_clothes"):
        parse_mask_specs(["top=uper_clothes"], classes)
    with pytest.raises(CheckpointError, match=r"did you mean schp_resnet101_lip"):
        zoo.resolve("schp_resnet101_lipp")
