"""Named label-set conversions (`predict --to`, `humanparse.inference.labelsets`) and their docs tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from humanparse.errors import ConfigError
from humanparse.inference.labelsets import (
    LABEL_SET_NAMES,
    NO_TARGET,
    class_names,
    conversion_table,
    get_conversion,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "label_sets.md"


def test_lip_to_atr_merges_and_loses_what_it_must():
    conversion = get_conversion("lip", "atr")
    lip, atr = class_names("lip"), class_names("atr")
    assert atr[conversion.lookup[lip.index("coat")]] == "upper_clothes"
    assert atr[conversion.lookup[lip.index("left_shoe")]] == "left_shoe"
    assert atr[conversion.lookup[lip.index("jumpsuits")]] == "dress"
    assert conversion.lookup[lip.index("glove")] == NO_TARGET
    assert "glove" in conversion.no_target and conversion.merged["upper_clothes"] == ("upper_clothes", "coat")
    labels = np.array([[0, 7, 3], [13, 255, 19]], np.uint8)
    assert conversion.apply(labels).tolist() == [[0, 4, 255], [11, 255, 10]]


def test_ootd_neck_goes_to_atr_face_and_atr_to_ootd_is_one_to_one():
    assert get_conversion("ootd", "atr").lookup[18] == 11
    conversion = get_conversion("atr", "ootd")
    assert conversion.lookup[:18].tolist() == list(range(18)) and conversion.summary().endswith("one to one")


def test_left_and_right_are_never_guessed():
    fashn_to_lip = get_conversion("fashn", "lip")
    assert fashn_to_lip.lookup[class_names("fashn").index("arms")] == NO_TARGET
    lip_to_fashn = get_conversion("lip", "fashn")
    fashn = class_names("fashn")
    assert fashn[lip_to_fashn.lookup[class_names("lip").index("right_arm")]] == "arms"
    assert len(fashn) == 18 and fashn[13] == "hands" and fashn[17] == "jewelry"


def test_every_conversion_is_in_the_docs():
    text = DOCS.read_text()
    for source in LABEL_SET_NAMES:
        for target in LABEL_SET_NAMES:
            if source != target:
                assert conversion_table(source, target) in text, (source, target)


def test_unknown_names_and_aliases():
    assert get_conversion("ppp", "lip").source == "pascal_person_part"
    with pytest.raises(ConfigError, match="unknown label set"):
        get_conversion("lip", "coco")


def test_predict_to_and_label_map(tmp_path, capsys):
    """`predict --to atr` saves ATR ids and prints the summary once; --label-map still works; not both."""
    import yaml
    from PIL import Image
    from tryon_network import tiny_onnx

    from humanparse.cli import main
    from humanparse.data.labels import get_label_set

    model = tiny_onnx(tmp_path / "parsing_lip.onnx", 20, 473)  # a LIP model file (OOTDiffusion's interface)
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 48, 3), dtype=np.uint8)).save(
        photos / "a.png"
    )
    base = ["predict", str(model), str(photos), "--workers", "0", "--no-progress"]
    assert main(base + ["--out", str(tmp_path / "lip")]) == 0
    assert main(base + ["--out", str(tmp_path / "atr"), "--to", "atr"]) == 0
    out = capsys.readouterr().out
    assert out.count("lip -> atr:") == 1 and "glove" in out
    lip = np.asarray(Image.open(tmp_path / "lip" / "a.png"))
    atr = np.asarray(Image.open(tmp_path / "atr" / "a.png"))
    assert np.array_equal(atr, get_conversion("lip", "atr").apply(lip))
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        yaml.safe_dump({name: 0 if i == 0 else 1 for i, name in enumerate(get_label_set("lip").classes)})
    )
    assert main(base + ["--out", str(tmp_path / "bin"), "--label-map", str(mapping)]) == 0
    assert np.array_equal(np.asarray(Image.open(tmp_path / "bin" / "a.png")), (lip > 0).astype(np.uint8))
    assert main(base + ["--out", str(tmp_path / "x"), "--label-map", str(mapping), "--to", "atr"]) == 2
