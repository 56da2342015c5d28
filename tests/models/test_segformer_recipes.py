"""The SegFormer recipes end to end against their references' own code, on the same weights and photos:
`fashn_segformer_b4` against FashnHumanParser.predict 0.1.1 and `segformer_b2_clothes` against the model card's
SegformerImageProcessor (PIL backend) chain. Fixtures made by tests/fixtures/segformer/make_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from humanparse.data.labels import FASHN_TRYON_GROUPS, dataset_classes, get_label_set
from humanparse.inference.backends import create_predictor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segformer"
PHOTOS = sorted((FIXTURES / "photos").glob("*.png"))


@pytest.fixture(scope="module")
def predictors():
    return {
        name: create_predictor(name, FIXTURES / "tiny_hf")
        for name in ("fashn_segformer_b4", "segformer_b2_clothes")
    }


@pytest.mark.parametrize(
    "recipe, folder", [("fashn_segformer_b4", "fashn"), ("segformer_b2_clothes", "clothes")]
)
def test_labels_equal_the_reference_code(predictors, recipe, folder):
    assert len(PHOTOS) == 3
    equal = total = 0
    for photo in PHOTOS:
        expected = np.asarray(Image.open(FIXTURES / folder / photo.name))
        assert len(np.unique(expected)) >= 4  # the seeded network's labels are not one flat class
        labels = predictors[recipe](photo)
        assert labels.shape == expected.shape
        equal += int((labels == expected).sum())
        total += expected.size
    assert equal / total >= 0.999, equal / total


def test_predict_runs_the_folded_head(predictors):
    from humanparse.models.prepare import FoldedMLPHead

    for predictor in predictors.values():
        assert isinstance(predictor.model.decode_head, FoldedMLPHead)


def test_the_two_protocols_differ_where_their_references_do(predictors):
    # INTER_AREA to 384x576 vs Pillow bilinear to 512x512: the same network gives other labels
    photo = PHOTOS[1]
    fashn = predictors["fashn_segformer_b4"](photo)
    clothes = predictors["segformer_b2_clothes"](photo)
    assert (fashn != clothes).mean() > 0.01


def test_class_names_and_tryon_groups():
    from humanparse.configs import get_config

    fashn = dataset_classes(get_config("fashn_segformer_b4").data)
    assert fashn.class_names[:4] == ("background", "face", "hair", "top") and fashn.num_classes == 18
    assert fashn.flip_pairs == ()  # FASHN's classes have no sides
    assert (
        dataset_classes(get_config("segformer_b2_clothes").data).class_names == get_label_set("atr").classes
    )
    assert set(FASHN_TRYON_GROUPS) == {"upper", "lower", "identity"}
    assert all(name in fashn.class_names for names in FASHN_TRYON_GROUPS.values() for name in names)
