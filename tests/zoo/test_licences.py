"""One licence table (the zoo's) and one notice: `humanparse configs` shows a recipe's weights licence, and weights
not cleared for commercial use print it exactly once per process, whether given by zoo name or as a file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from zoo_fixtures import TINY, publish_tiny  # noqa: E402

import humanparse
from humanparse.cli import main
from humanparse.configs import list_configs
from humanparse.models.weights import load_for_inference
from humanparse.zoo import licences, table, weights_licence
from humanparse.zoo.table import Licence, ZooEntry

TINY_HF = Path(__file__).resolve().parents[1] / "fixtures" / "segformer" / "tiny_hf"


def notices(caplog) -> list:
    return [r.getMessage() for r in caplog.records if r.name == licences.__name__]


@pytest.fixture
def tiny_published(monkeypatch):
    """The tiny recipe's weights published under its name with a non-commercial licence, in the cache, and the
    same weights as a file of the user's own."""
    _, path = publish_tiny(monkeypatch, Licence("test NC licence", "test NC", "no"))
    own = path.parent.parent / "own.pth"
    own.write_bytes(path.read_bytes())
    return own


def test_recipes_take_their_weights_licence_from_the_zoo_table():
    for name in list_configs():
        assert "licence" not in humanparse.get_config(name).published, name  # one table: the zoo's
    fashn = weights_licence("fashn_segformer_b4")
    assert fashn is table.SEGFORMER_LICENCE and fashn.commercial == "no" and "NVlabs/SegFormer" in fashn.url
    assert weights_licence("ce2p_resnet101os8_lip") is table.SSSEG_LICENCE
    assert weights_licence(TINY) is None  # no published weights: nothing to say


def test_configs_lists_the_weights_licence(capsys):
    assert main(["configs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-2:] == ["weights", "licence"]
    assert next(line for line in lines if line.startswith("fashn_segformer_b4 ")).endswith("NVIDIA SegFormer")
    assert next(line for line in lines if line.startswith("segformer_b2_clothes ")).endswith("MIT (card)")
    assert next(line for line in lines if line.startswith(f"{TINY} ")).endswith("-")


@pytest.mark.parametrize("order", [("zoo",), ("file",), ("zoo", "file"), ("file", "zoo")])
def test_the_notice_is_shown_once_whichever_way_the_weights_come(tiny_published, caplog, order):
    sources = {"zoo": TINY, "file": str(tiny_published)}
    with caplog.at_level(logging.WARNING, logger=licences.__name__):
        for way in order:
            humanparse.Predictor(TINY, sources[way], optimize=False)  # a zoo name resolves, then loads
            load_for_inference(TINY, sources[way])
    shown = notices(caplog)
    assert len(shown) == 1, shown
    assert f"weights of {TINY} are under: test NC licence" in shown[0] and "commercial use: no" in shown[0]


def test_segformer_weights_print_nvidias_licence_once(caplog):
    with caplog.at_level(logging.WARNING, logger=licences.__name__):
        load_for_inference("fashn_segformer_b4", TINY_HF)
        load_for_inference("fashn_segformer_b4", TINY_HF)
    shown = notices(caplog)
    assert len(shown) == 1 and "NVIDIA Source Code License for SegFormer" in shown[0], shown
    assert "github.com/NVlabs/SegFormer/blob/master/LICENSE" in shown[0]
    assert licences.notify_licence("ce2p_resnet101os8_lip") is True  # once per licence: SSSeg's is another
    assert licences.notify_licence("ce2p_resnet50os8_lip") is False


def test_commercial_weights_print_nothing(monkeypatch):
    free = Licence("MIT", "MIT", "yes")
    entry = table.ZOO["fashn_segformer_b4"]
    monkeypatch.setitem(table.ZOO, entry.name, ZooEntry(**{**entry.__dict__, "licence": free}))
    assert licences.notify_licence(entry.name) is False
