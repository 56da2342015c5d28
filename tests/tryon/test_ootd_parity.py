"""`humanparse tryon`'s OOTDiffusion protocol against OOTDiffusion's own code (tests/fixtures/tryon, made by
scripts/make_tryon_fixtures.py): parse map, both masks and masked photo, for every category, both model types,
with keypoints and pose-free, with the networks as OOTDiffusion-interface ONNX files and as a torch checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import tryon_network as tn
from PIL import Image

from humanparse.tryon.keypoints import keypoints_for, read_keypoints
from humanparse.tryon.protocols.ootd import CATEGORIES, MODEL_TYPES, OotdProtocol
from humanparse.tryon.runner import build_tryon_predictor, read_photo

PHOTOS = sorted(path for path in (tn.FIXTURES / "photos").iterdir())
REFERENCE = tn.FIXTURES / "reference"
BAR = 0.999  # the bar: at least 99.9% of pixels equal


def _equal_share(ours: np.ndarray, theirs: np.ndarray) -> float:
    assert ours.shape == theirs.shape
    if ours.ndim == 3:
        return float((ours == theirs).all(axis=2).mean())
    return float((ours == theirs).mean())


@pytest.fixture(scope="module")
def onnx_files(tmp_path_factory):
    heads = np.load(tn.FIXTURES / "heads.npz")
    folder = tmp_path_factory.mktemp("ootd_onnx")
    files = {}
    for kind, size in (("atr", 512), ("lip", 473)):
        files[kind] = tn.export_ootd_onnx(
            tn.fixture_network(kind, heads), folder / f"parsing_{kind}.onnx", size
        )
    return files


@pytest.fixture(scope="module")
def designed_parse(tmp_path_factory):
    """Our parse map of person_a with the designed networks (fixed logits of a drawn person)."""
    folder = tmp_path_factory.mktemp("designed_onnx")
    files = {kind: tn.export_designed_onnx(kind, folder / f"parsing_{kind}.onnx") for kind in ("atr", "lip")}
    predictor = build_tryon_predictor(OotdProtocol(), files)
    sample = predictor.transform(read_photo(str(tn.FIXTURES / "photos" / "person_a.png")))
    return predictor.predict_samples([sample])[0][0].parse


def test_designed_parse_map_fills_holes_and_finds_the_neck(designed_parse):
    """Hole fill (a small shirt hole and a small arm loop filled, a large arm loop kept) and the neck, exactly."""
    theirs = np.asarray(Image.open(REFERENCE / "designed_parse.png"))
    assert _equal_share(designed_parse, theirs) >= BAR
    assert (designed_parse == 18).sum() > 500  # the neck
    # the fill changed pixels here (the shirt hole and the small loop), so the comparison above checks it
    assert (theirs == 4).sum() > (
        tn.designed_map("atr") == 4
    ).sum() * 16 * 0.5625 * 1.02  # holes became shirt


@pytest.fixture(scope="module")
def parsed(onnx_files):
    """Per photo: our (parse map, 768x1024 photo) from the ONNX files, through the pipeline's predictor."""
    predictor = build_tryon_predictor(OotdProtocol(), onnx_files)
    result = {}
    for path in PHOTOS:
        sample = predictor.transform(read_photo(str(path)))
        result[path.stem] = predictor.predict_samples([sample])[0][0]
    return result


@pytest.mark.parametrize("photo", [path.stem for path in PHOTOS])
def test_parse_map_and_photo_equal_the_reference(parsed, photo):
    theirs = Image.open(REFERENCE / f"{photo}_parse.png")
    assert theirs.mode == "P"
    parse = parsed[photo].parse
    assert parse.shape == (512, 384) and parse.dtype == np.uint8
    share = _equal_share(parse, np.asarray(theirs))
    assert share >= BAR, f"{photo}: {share:.5f} of the parse map equal"
    # the map is not trivial: upper clothes, arms, face and neck are all present
    assert {4, 11, 18} <= set(np.unique(parse)) and len(np.unique(parse)) >= 8
    their_photo = np.asarray(Image.open(REFERENCE / f"{photo}_photo768.png").convert("RGB"))
    assert np.array_equal(parsed[photo].photo, their_photo)


@pytest.mark.parametrize("pose", ["pose", "posefree"])
@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("model_type", MODEL_TYPES)
@pytest.mark.parametrize("photo", [path.stem for path in PHOTOS] + ["designed"])
def test_masks_and_masked_photo_equal_the_reference(photo, model_type, category, pose):
    points = None
    if pose == "pose" and photo == "designed":
        points = np.array(tn.DESIGNED_KEYPOINTS)
    elif pose == "pose":
        path = next(p for p in PHOTOS if p.stem == photo)
        points = keypoints_for(tn.FIXTURES / "keypoints", [(photo, path)])[photo]
    # their parse map in, so that each step is checked on its own
    their_parse = np.asarray(Image.open(REFERENCE / f"{photo}_parse.png"))
    their_photo = np.asarray(Image.open(REFERENCE / f"{photo}_photo768.png").convert("RGB"))
    files = OotdProtocol(category, model_type).outputs(their_parse, their_photo, points)
    name = f"{photo}_{model_type}_{category}_{pose}"
    their_mask = np.asarray(Image.open(REFERENCE / f"{name}_mask.png"))
    for suffix in ("_mask.png", "_mask_gray.png"):
        ours = np.asarray(files[suffix])
        share = _equal_share(ours, np.asarray(Image.open(REFERENCE / f"{name}{suffix}")))
        assert share >= BAR, f"{name}{suffix}: {share:.5f} equal"
    assert 0.01 < (their_mask == 255).mean() < 0.9  # a real mask, neither empty nor everything
    stored = REFERENCE / f"{name}_masked.png"
    theirs = (
        np.asarray(Image.open(stored))
        if stored.is_file()  # a few are stored as written; the driver checked the others equal photo + mask
        else np.where(their_mask[:, :, None] == 255, 127, their_photo).astype(np.uint8)
    )
    share = _equal_share(np.asarray(files["_masked.png"]), theirs)
    assert share >= BAR, f"{name}_masked.png: {share:.5f} equal"


@pytest.mark.parametrize("photo", [path.stem for path in PHOTOS])
def test_end_to_end_from_the_photo(parsed, photo):
    """Our parse map (not theirs) into the masks: still at the bar."""
    path = next(p for p in PHOTOS if p.stem == photo)
    points = keypoints_for(tn.FIXTURES / "keypoints", [(photo, path)])[photo]
    files = OotdProtocol("upper_body", "hd").outputs(parsed[photo].parse, parsed[photo].photo, points)
    theirs = np.asarray(Image.open(REFERENCE / f"{photo}_hd_upper_body_pose_mask.png"))
    assert _equal_share(np.asarray(files["_mask.png"]), theirs) >= BAR


def test_openpose_format_gives_the_same_points():
    ootd = read_keypoints(tn.FIXTURES / "keypoints" / "person_a.json")
    openpose = read_keypoints(tn.FIXTURES / "keypoints" / "person_a_keypoints.json", photo_size=(192, 256))
    assert np.array_equal(ootd, openpose)


def test_torch_checkpoint_equals_the_reference(tmp_path):
    """The same networks as humanparse checkpoints, run by PyTorch: the parse map is still at the bar."""
    from humanparse.models.checkpoint_io import atomic_torch_save, checkpoint_dict

    heads = np.load(tn.FIXTURES / "heads.npz")
    files = {}
    for kind in ("atr", "lip"):
        model = tn.fixture_network(kind, heads)
        files[kind] = atomic_torch_save(
            checkpoint_dict(model, tn.small_config(kind)), tmp_path / f"{kind}.pth"
        )
    predictor = build_tryon_predictor(OotdProtocol(), files)
    assert predictor.predictors["atr"].tta.forward is not None
    photo = PHOTOS[0]
    sample = predictor.transform(read_photo(str(photo)))
    with torch.inference_mode():
        parse = predictor.predict_samples([sample])[0][0].parse
    share = _equal_share(parse, np.asarray(Image.open(REFERENCE / f"{photo.stem}_parse.png")))
    assert share >= BAR, share


def test_tryon_command_writes_the_reference_outputs_and_resumes(onnx_files, tmp_path, capsys):
    from humanparse.cli import main

    out = tmp_path / "out"
    argv = [
        "tryon",
        str(tn.FIXTURES / "photos"),
        "--out",
        str(out),
        "--keypoints",
        str(tn.FIXTURES / "keypoints"),
    ]
    argv += [
        "--atr",
        str(onnx_files["atr"]),
        "--lip",
        str(onnx_files["lip"]),
        "--workers",
        "0",
        "--no-progress",
    ]
    argv += ["--category", "dresses", "--model-type", "dc"]
    assert main(argv) == 0
    for photo in PHOTOS:
        name = f"{photo.stem}_dc_dresses_pose"
        parse = Image.open(out / f"{photo.stem}_parse.png")
        assert parse.mode == "P" and parse.size == (384, 512)
        assert (
            _equal_share(np.asarray(parse), np.asarray(Image.open(REFERENCE / f"{photo.stem}_parse.png")))
            >= BAR
        )
        for suffix in ("_mask.png", "_mask_gray.png"):
            ours = np.asarray(Image.open(out / f"{photo.stem}{suffix}"))
            assert ours.shape == (1024, 768)
            assert _equal_share(ours, np.asarray(Image.open(REFERENCE / f"{name}{suffix}"))) >= BAR
        masked = Image.open(out / f"{photo.stem}_masked.png")
        assert masked.mode == "RGB" and masked.size == (768, 1024)
    assert "done 3" in capsys.readouterr().out
    assert main(argv) == 0  # a rerun resumes: nothing to do
    assert "done 0, skipped 3" in capsys.readouterr().out


def test_tryon_refuses_to_write_over_its_inputs(onnx_files, tmp_path, capsys):
    from humanparse.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "x_mask.png").write_bytes((tn.FIXTURES / "photos" / "person_a.png").read_bytes())
    (photos / "x.png").write_bytes((tn.FIXTURES / "photos" / "person_a.png").read_bytes())
    argv = [
        "tryon",
        str(photos),
        "--out",
        str(photos),
        "--atr",
        str(onnx_files["atr"]),
        "--lip",
        str(onnx_files["lip"]),
    ]
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err
    assert (photos / "x_mask.png").read_bytes() == (tn.FIXTURES / "photos" / "person_a.png").read_bytes()
