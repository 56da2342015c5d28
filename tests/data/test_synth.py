"""Synthetic people: deterministic, in the layouts' class ids, left/right as the datasets define them."""

from __future__ import annotations

import numpy as np
import pytest

from humanparse.cli import main as cli_main
from humanparse.data.io import read_image, read_label
from humanparse.data.labels import IGNORE_INDEX
from humanparse.data.synth import generate_dataset, render_person, render_sample

# classes each layout may use (besides background and ignore)
ALLOWED = {
    "lip": {1, 2, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18, 19},
    "atr": {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15},
    "ppp": {1, 2, 3, 4, 5, 6},
    "voc": {5, 9, 15, 16, 20},
}


def _files(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    first = generate_dataset("lip", tmp_path / "a", 3, 2, size=(48, 48), seed=7)
    second = generate_dataset("lip", tmp_path / "b", 3, 2, size=(48, 48), seed=7)
    other = generate_dataset("lip", tmp_path / "c", 3, 2, size=(48, 48), seed=8)
    names = [p.relative_to(first) for p in _files(first)]
    assert names == [p.relative_to(second) for p in _files(second)] and len(names) == 12
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    differing = [
        n for n in names if n.suffix == ".png" and (first / n).read_bytes() != (other / n).read_bytes()
    ]
    assert len(differing) == 5


def test_a_sample_does_not_depend_on_how_many_are_written(tmp_path):
    small = generate_dataset("atr", tmp_path / "small", 1, 0, size=(40, 40), seed=1)
    large = generate_dataset("atr", tmp_path / "large", 4, 1, size=(40, 40), seed=1)
    name = "SegmentationClassAug/train_000000.png"
    assert (small / name).read_bytes() == (large / name).read_bytes()


@pytest.mark.parametrize("layout", list(ALLOWED))
def test_labels_use_the_layout_classes(layout):
    seen = set()
    for index in range(6):
        image, label = render_sample(layout, (96, 80), np.random.default_rng([0, index]))
        assert image.shape == (96, 80, 3) and image.dtype == np.uint8
        assert label.shape == (96, 80) and label.dtype == np.uint8
        values = set(np.unique(label).tolist()) - {0, IGNORE_INDEX}
        assert values <= ALLOWED[layout], f"{layout}: unexpected classes {values - ALLOWED[layout]}"
        seen |= values
        foreground = np.mean((label != 0) & (label != IGNORE_INDEX))
        assert 0.03 < foreground < 0.8, f"{layout}: person covers {foreground:.2f} of the image"
    if layout == "voc":  # people and a few objects, outlined with the ignore value as VOC does
        assert 15 in seen and len(seen) >= 2 and IGNORE_INDEX in np.unique(label)
    else:
        assert len(seen) >= min(6, len(ALLOWED[layout]) - 1), f"{layout}: only {sorted(seen)}"


def test_person_left_is_on_the_image_right():
    """Front-facing people: the person's left arm, leg and shoe lie right of their right ones."""
    checked = 0
    for index in range(12):
        _, label = render_sample("lip", (128, 128), np.random.default_rng([1, index]))
        for left, right in ((16, 17), (18, 19)):
            xs_left, xs_right = np.nonzero(label == left)[1], np.nonzero(label == right)[1]
            if xs_left.size > 5 and xs_right.size > 5:
                assert xs_left.mean() > xs_right.mean(), f"image {index}: class {left} left of {right}"
                checked += 1
        xs_left, xs_right = np.nonzero(label == 14)[1], np.nonzero(label == 15)[1]
        if xs_left.size > 5 and xs_right.size > 5:
            assert np.median(xs_left) > np.median(xs_right), f"image {index}: left arm left of right arm"
            checked += 1
    assert checked >= 12


def test_cli_writes_every_layout_that_the_readers_accept(tmp_path, capsys):
    for layout in ("cihp", "voc", "ppp", "folder"):
        out = tmp_path / layout
        argv = ["synth", "--layout", layout, "--out", str(out), "--train", "2", "--val", "1"]
        assert cli_main(argv + ["--size", "40", "48", "--no-progress", "--preview"]) == 0
        images = [p for p in out.rglob("*.jpg")]
        labels = [p for p in out.rglob("*.png") if p.name != "preview.png"]
        assert len(images) == 3 and len(labels) == 3
        assert read_image(images[0]).shape == (40, 48, 3) and read_label(labels[0]).shape == (40, 48)
        assert (out / "preview.png").is_file()
    assert "data.dataset=folder data.num_classes=20" in capsys.readouterr().out


def test_cli_refuses_bad_sizes(tmp_path, capsys):
    assert cli_main(["synth", "--out", str(tmp_path), "--size", "8", "8", "--no-progress"]) == 2
    assert "too small" in capsys.readouterr().err


def test_render_person_adds_openpose_arm_points_on_the_arms():
    """The same picture as render_sample, and OpenPose points 2-7 where the arms are drawn (2-4 the person's
    right arm, on the image's left)."""
    on_arm = 0
    for index in range(8):
        image, label = render_sample("atr", (256, 192), np.random.default_rng([3, index]))
        same_image, same_label, points = render_person("atr", (256, 192), np.random.default_rng([3, index]))
        assert np.array_equal(image, same_image) and np.array_equal(label, same_label)
        assert points.shape == (18, 2) and not points[[0, 1, *range(8, 18)]].any()
        for indices, arm in (((2, 3), 15), ((5, 6), 14)):  # shoulder and elbow; ATR right arm 15, left 14
            for x, y in points[list(indices)].round().astype(int):
                if 0 <= x < 192 and 0 <= y < 256 and label[y, x] in (arm, 4, 7):  # or a sleeve over it
                    on_arm += 1
        assert points[2:5, 0].mean() < points[5:8, 0].mean()
    assert on_arm >= 28  # of 32: an arm may be covered by another part
