"""Each recipe names its weights' licence; `humanparse configs` shows it and non-commercial weights say so once."""

from __future__ import annotations

import logging
from pathlib import Path

from humanparse.cli import main
from humanparse.configs import get_config, licences, list_configs

TINY_HF = Path(__file__).resolve().parent / "fixtures" / "segformer" / "tiny_hf"


def test_every_recipe_with_published_weights_names_their_licence():
    for name in list_configs():
        published = get_config(name).published
        if published.get("weights_url"):
            assert published.get("licence"), name
    assert "non-commercial" in get_config("fashn_segformer_b4").published["licence"]
    assert get_config("fashn_segformer_b4").published["commercial_use"] is False
    assert get_config("ce2p_resnet101os8_lip").published["licence"].startswith("Apache-2.0")
    assert get_config("schp_resnet101_lip").published["licence"] == "none stated"


def test_configs_lists_the_weights_licence(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["weights", "licence"]
    row = next(line for line in lines if line.startswith("segformer_b2_clothes "))
    assert row.endswith("NVIDIA SegFormer licence (non-commercial)")
    assert next(line for line in lines if line.startswith("ce2p_tiny_synthetic ")).endswith("-")


def test_non_commercial_weights_print_their_licence_once(caplog, monkeypatch):
    from humanparse.models.weights import load_for_inference

    monkeypatch.setattr(licences, "_noticed", set())
    with caplog.at_level(logging.WARNING, logger="humanparse.configs.licences"):
        load_for_inference("fashn_segformer_b4", TINY_HF)
        load_for_inference("segformer_b2_clothes", TINY_HF)  # the same licence: not again
    notices = [record.getMessage() for record in caplog.records if "licence" in record.getMessage()]
    assert len(notices) == 1
    assert "NVIDIA SegFormer licence (non-commercial)" in notices[0] and "NVlabs/SegFormer" in notices[0]
    assert licences.notify_licence(get_config("ce2p_resnet101os8_lip")) is False  # Apache-2.0: nothing to say
