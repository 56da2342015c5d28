"""A zoo name stands for weights everywhere: Predictor(NAME), predict, convert; a missing or altered file says
what to do."""

import numpy as np
import pytest
import torch
from zoo_fixtures import TINY, publish_tiny  # noqa: E402

import humanparse
from humanparse.cli import main as cli_main
from humanparse.errors import CheckpointError
from humanparse.zoo import cache, models_dir, resolve_weights, table
from humanparse.zoo.table import Licence


@pytest.fixture
def tiny_in_the_zoo(monkeypatch):
    """The tiny recipe's weights published under its name (hash known), already in the cache."""
    return publish_tiny(monkeypatch, Licence("CC BY-NC", "CC BY-NC", "no"), "https://example.invalid/t")


def test_predictor_with_a_recipe_name_alone_uses_its_zoo_weights(tiny_in_the_zoo, caplog):
    model, path = tiny_in_the_zoo
    predictor = humanparse.Predictor(TINY, optimize=False)  # no checkpoint: the zoo entry of its name
    assert predictor.tta.source == TINY
    assert "weights of ce2p_tiny_synthetic are under: CC BY-NC" in caplog.text
    for name, value in model.state_dict().items():
        if name.endswith("conv1.weight"):
            assert torch.equal(predictor.model.state_dict()[name], value)
            break
    labels = predictor(np.zeros((40, 30, 3), np.uint8))
    assert labels.shape == (40, 30)
    assert cache.status(models_dir(), table.ZOO[TINY].files[0]) == cache.VERIFIED


def test_predictor_without_weights_for_a_recipe_with_none_published():
    with pytest.raises(CheckpointError, match="'ce2p_tiny_synthetic' has no published weights"):
        humanparse.Predictor(TINY)


def test_a_hand_placed_file_that_is_not_the_published_one_is_refused(tiny_in_the_zoo):
    _, path = tiny_in_the_zoo
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="its SHA-256 differs.*humanparse download ce2p_tiny_synthetic"):
        resolve_weights(TINY)


def test_predict_and_convert_take_a_zoo_name_as_weights(tiny_in_the_zoo, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    import cv2

    cv2.imwrite(str(photos / "a.jpg"), np.full((48, 32, 3), 128, np.uint8))
    assert (
        cli_main(["predict", TINY, TINY, str(photos), "--out", str(tmp_path / "out"), "--workers", "0"]) == 0
    )
    assert (tmp_path / "out" / "a.png").is_file()
    # export, quantize and test load through the same load_for_inference as convert
    converted = tmp_path / "tiny_converted.pth"
    assert cli_main(["convert", TINY, str(converted), "--config", TINY]) == 0
    assert converted.is_file()


def test_an_existing_file_wins_and_a_missing_path_is_left_to_the_reader(tmp_path):
    own = tmp_path / "ce2p_resnet50os8_lip"  # a file named like a zoo entry: the user's file
    own.write_bytes(b"x")
    assert resolve_weights(str(own)) == own
    assert resolve_weights(str(tmp_path / "nothing.pth")) == tmp_path / "nothing.pth"
