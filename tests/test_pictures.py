"""The pictures a user looks at, checked on the written files: overlay outlines and legend, the demo's
panels, the confusion matrix."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from humanparse.data.labels import get_palette
from humanparse.inference.pipeline import OutputSpec
from humanparse.inference.prediction_io import PhotoItem, add_legend, colour_labels, legend_classes

CLASSES = ("background", "hat", "hair", "glove", "sunglasses", "upper_clothes", "dress")
DRESS = 6  # LIP's darkest colour, (0, 0, 85)


def _labels() -> np.ndarray:
    labels = np.zeros((120, 90), np.uint8)
    labels[20:100, 20:70] = DRESS
    labels[5:20, 30:60] = 2  # hair
    return labels


def _near(colour, rgb, tolerance=40):
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(colour, rgb[::-1]))


def test_written_overlay_outlines_dark_classes_and_its_legend_leaves_background_out(tmp_path):
    photo = np.full((120, 90, 3), 20, np.uint8)  # dark clothes: the dress's colour alone would vanish
    spec = OutputSpec(class_names=CLASSES, overlay=True, legend=True)
    spec.write(tmp_path, PhotoItem(Path("p.jpg"), "p"), _labels(), image=photo)
    written = cv2.imread(str(tmp_path / "p_overlay.jpg"))
    picture, legend = written[:, :90], written[:, 90:]
    # the dress's border is drawn light on the dark photo; its inside stays the blended dark colour
    assert (picture[20, 45] > 180).all() and (picture[60, 20] > 180).all()
    assert (picture[60, 45] < 80).all()
    # the legend: hair and dress, no swatch for the unpainted background
    assert legend_classes(_labels(), len(CLASSES)) == [2, DRESS]
    palette = get_palette("lip")
    filled = [
        legend[4 + 22 * row + 4 : 4 + 22 * row + 12, 8:16].reshape(-1, 3).mean(axis=0) for row in range(3)
    ]
    assert _near(filled[0], palette[2]) and _near(filled[1], palette[DRESS])
    assert (filled[2] > 240).all()  # no third entry: background is not listed


def test_label_map_legend_lists_background_as_painted():
    labels = _labels()
    panel = add_legend(colour_labels(labels), labels, CLASSES, background=True)
    legend = panel[:, 90:]
    palette = get_palette("lip")
    entries = [
        legend[4 + 22 * row + 4 : 4 + 22 * row + 12, 8:16].reshape(-1, 3).mean(axis=0) for row in range(3)
    ]
    assert [_near(e, palette[c], 2) for e, c in zip(entries, (0, 2, DRESS))] == [True, True, True]
    # the label map is unblended: exactly the palette's colours
    assert tuple(colour_labels(labels)[60, 45]) == tuple(int(v) for v in palette[DRESS][::-1])


def test_demo_panels_are_label_maps_with_a_legend(tmp_path):
    from humanparse.cli import main
    from humanparse.cli.demo import draw_panels

    data = tmp_path / "data"
    argv = ["synth", "--out", str(data), "--train", "1", "--val", "2", "--size", "64", "64", "--no-progress"]
    assert main(argv) == 0
    predict = tmp_path / "predict"
    predict.mkdir()
    for label in (data / "val_segmentations").iterdir():  # the ground truth stands in for a prediction
        (predict / label.name).write_bytes(label.read_bytes())
    [panel_path, *_] = draw_panels(data, predict, tmp_path / "panels", count=1)
    panel = cv2.imread(str(panel_path))
    truth = cv2.imread(str(next((data / "val_segmentations").iterdir())), cv2.IMREAD_UNCHANGED)
    classes = sorted(int(c) for c in np.unique(truth) if c < 20)
    colours = {tuple(int(v) for v in get_palette("lip")[c][::-1]) for c in classes}
    pixels = {tuple(p) for p in panel.reshape(-1, 3)}
    assert colours <= pixels  # the label maps and the swatches use the palette's exact colours
    assert panel.shape[1] > 3 * 2 * 64 + 12  # three zoomed pictures and a legend beside them


def _results():
    names = ["background", "hat", "hair", "dress"]
    matrix = [[900, 0, 0, 100], [0, 0, 0, 0], [5, 0, 80, 15], [0, 0, 0, 0]]
    return {
        "mIoU": 0.6,
        "per_class_iou": {"background": 0.9, "hat": math.nan, "hair": 0.8, "dress": 0.0},
        "confusion_matrix": matrix,
        "names": names,
    }


def test_confusion_matrix_is_titled_annotated_and_marks_absent_rows(tmp_path):
    from humanparse.engine.report import confusion_figure, plot_confusion_matrix

    figure = confusion_figure(_results())
    axes = figure.axes[0]
    assert axes.get_title().startswith("Confusion matrix")
    texts = {(round(t.get_position()[0]), round(t.get_position()[1])): t.get_text() for t in axes.texts}
    assert texts[(0, 0)] == "90" and texts[(2, 2)] == "80"  # the diagonal
    assert texts[(3, 0)] == "10" and texts[(3, 2)] == "15"  # large errors
    assert (0, 2) not in texts and (1, 0) not in texts  # small ones (5%) and zeros stay blank
    marks = [t.get_text() for t in axes.texts if t.get_color() == "grey"]
    assert marks == ["absent", "no ground truth (only predicted)"]
    path = plot_confusion_matrix(_results(), tmp_path / "confusion.png")
    written = cv2.imread(str(path))
    assert written is not None and written.shape[0] > 200
