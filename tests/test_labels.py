"""Label sets, flip pairs and palettes against the values the field uses (USERS.md §4)."""

import numpy as np
import pytest

from humanparse.data.labels import get_label_set, get_palette, voc_palette


@pytest.mark.parametrize(
    ("name", "count", "pairs"),
    [
        ("lip", 20, ((14, 15), (16, 17), (18, 19))),
        ("cihp", 20, ((14, 15), (16, 17), (18, 19))),
        ("atr", 18, ((9, 10), (12, 13), (14, 15))),
        ("voc", 21, ()),
        ("pascal_person_part", 7, ()),
    ],
)
def test_label_sets(name, count, pairs):
    label_set = get_label_set(name)
    assert label_set.num_classes == count
    assert label_set.flip_pairs == pairs


def test_left_right_pairs_name_left_and_right():
    for name in ("lip", "cihp", "atr"):
        label_set = get_label_set(name)
        for left, right in label_set.flip_pairs:
            assert label_set.classes[left].startswith("left_")
            assert label_set.classes[right] == "right_" + label_set.classes[left][len("left_") :]


def test_cihp_differs_from_lip_only_at_torso_skin():
    lip, cihp = get_label_set("lip").classes, get_label_set("cihp").classes
    assert [i for i, (a, b) in enumerate(zip(lip, cihp)) if a != b] == [10]
    assert cihp[10] == "torso_skin"


def test_flip_permutation_is_an_involution():
    perm = np.array(get_label_set("lip").flip_permutation())
    assert perm[14] == 15 and perm[19] == 18 and perm[5] == 5
    assert (perm[perm] == np.arange(20)).all()


def test_palettes():
    lip = get_palette("lip")
    assert lip.shape == (256, 3) and lip.dtype == np.uint8
    assert tuple(lip[2]) == (255, 0, 0) and tuple(lip[13]) == (0, 0, 255) and tuple(lip[19]) == (255, 170, 0)
    voc = voc_palette()
    assert [tuple(c) for c in voc[:4]] == [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0)]
    assert tuple(voc[15]) == (192, 128, 128)  # VOC's person colour
    with pytest.raises(KeyError):
        get_palette("rainbow")
