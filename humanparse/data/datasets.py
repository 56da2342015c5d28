"""Dataset readers: one per real layout (LIP, CIHP, ATR, PASCAL VOC, Pascal-Person-Part) and a generic folder.

Every reader resolves a split into a `SplitFiles` (ids, image paths, label paths), checked up front for existence
only; `ParsingDataset` then reads one sample at a time through `humanparse.data.io`, so a bad file raises a
`DataError` naming it (inside a DataLoader worker too). Layouts, relative to `DataConfig.root`:

* LIP: `{split}_id.txt`, `{split}_images/<id>.jpg`, `{split}_segmentations/<id>.png` (the `test` split's folders
  are `testing_*`). The official download's nesting is accepted as well: `TrainVal_images/{split}_images`,
  `TrainVal_images/{split}_id.txt`, `TrainVal_parsing_annotations/{split}_segmentations` (also doubly nested),
  `Testing_images/testing_images` and `Testing_images/test_id.txt`.
* CIHP: `Training|Validation|Testing/{train,val,test}_id.txt`, `.../Images/<id>.jpg`, `.../Category_ids/<id>.png`;
  ids are zero-padded to 7 digits (the lists hold them as integers, SSSegmentation restores them).
* ATR: `{split}_id.txt`, `JPEGImages/<id>.jpg`, `SegmentationClassAug/<id>.png`.
* VOC: `VOCdevkit/VOC2012/` (the root may be the folder holding `VOCdevkit`, `VOC2012` itself or its parent):
  `ImageSets/Segmentation/{trainaug,val}.txt`, `JPEGImages/<id>.jpg`, labels from `SegmentationClass/<id>.png`
  as SSSegmentation reads them for both splits; an id missing there is looked up in `SegmentationClassAug/`.
* Pascal-Person-Part: LIP's flat layout: `{split}_id.txt`, `{split}_images/<id>.jpg`,
  `{split}_segmentations/<id>.png`.
* folder: `DataConfig.images_dir` and `labels_dir` (relative to the root unless absolute), files named
  `<id>{image_suffix}` and `<id>{label_suffix}`; the ids come from `<root>/{split}_id.txt` when it exists, else
  every image in `images_dir` (so train and val are then the same images).

A split without a label folder (LIP's or CIHP's test set) loads images only, for validation-style use.

Validation samples have variable sizes: use batch size 1 with the default collate, or `collate_val`, which
returns the list of samples unchanged.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from torch.utils.data import Dataset

from humanparse.data.io import check_same_size, read_image, read_label
from humanparse.data.labels import ClassInfo, canonical_layout, class_info
from humanparse.data.transforms import build_train_transform, build_val_transform
from humanparse.errors import ConfigError, DataError

_SHOWN_MISSING = 5


@dataclass
class SplitFiles:
    """The files of one split: parallel lists of ids, image paths and label paths (None without labels)."""

    ids: List[str]
    image_paths: List[str]
    label_paths: Optional[List[str]]
    list_path: Optional[str] = None  # the id list they came from, for messages


class ParsingDataset(Dataset):
    """Reads `files` one sample at a time and runs `transform` on them.

    Train transforms are called as `transform(image, label, rng)` with this dataset's numpy generator, validation
    transforms as `transform(image, label_or_None)`. The sample's `meta` gains `id`, `image_path`, `label_path`
    and `original_size` (h, w).
    """

    def __init__(
        self, files: SplitFiles, classes: ClassInfo, transform: Optional[Callable], train: bool
    ) -> None:
        self.files = files
        self.classes = classes
        self.transform = transform
        self.train = train
        self.rng = np.random.default_rng(0)

    # --------------------------------------------------------------- interface used by the engine
    @property
    def ids(self) -> List[str]:
        return self.files.ids

    @property
    def num_classes(self) -> int:
        return self.classes.num_classes

    @property
    def flip_pairs(self) -> Tuple[Tuple[int, int], ...]:
        return self.classes.flip_pairs

    @property
    def class_names(self) -> Tuple[str, ...]:
        return self.classes.class_names

    @property
    def has_labels(self) -> bool:
        return self.files.label_paths is not None

    def set_rng(self, generator: np.random.Generator) -> None:
        """Use `generator` for the random augmentation (the trainer sets one per epoch and worker)."""
        self.rng = generator

    def __len__(self) -> int:
        return len(self.files.ids)

    def read(self, index: int) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """The raw BGR image and label (None without labels) of sample `index`, checked."""
        image_path = self.files.image_paths[index]
        image = read_image(image_path)
        if self.files.label_paths is None:
            return image, None
        label_path = self.files.label_paths[index]
        label = read_label(label_path, self.num_classes)
        check_same_size(image, label, image_path, label_path)
        return image, label

    def __getitem__(self, index: int) -> Dict[str, Any]:
        image, label = self.read(index)
        if self.transform is None:
            raise ConfigError("this dataset was built without a transform; use read(index) for raw arrays")
        if self.train:
            sample = self.transform(image, label, self.rng)
        else:
            sample = self.transform(image, label)
        meta = dict(sample.get("meta", {}))
        meta.update(
            id=self.files.ids[index],
            image_path=self.files.image_paths[index],
            label_path=self.files.label_paths[index] if self.files.label_paths is not None else "",
            original_size=(int(image.shape[0]), int(image.shape[1])),
        )
        sample["meta"] = meta
        return sample


def collate_val(samples: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Collate of validation loaders: the samples as a list (their images and labels differ in size)."""
    return list(samples)


# ------------------------------------------------------------------------------------------ building
def build_dataset(config, split: str, train: bool, transform: Optional[Callable] = None) -> ParsingDataset:
    """The dataset `config.data` names, for `split`, with the recipe's train or validation transform.

    `transform` replaces the recipe's transform (tests, tools that want raw samples).
    """
    data = config.data
    layout = canonical_layout(data.dataset)
    files = resolve_split(layout, data.root, split, data)
    repeated = duplicate_ids(files.ids)
    if repeated:
        what = f"split {split!r} lists {len(repeated)} id(s) more than once ({', '.join(repeated[:5])})"
        if not train:  # a validation sample counted twice would bias the mIoU
            raise DataError(f"{what} in {files.list_path}; each id may appear once")
        warnings.warn(f"{what} in {files.list_path}: those samples are drawn more often", stacklevel=2)
    if train and files.label_paths is None:
        raise DataError(f"split {split!r} of {data.root} has no labels; it cannot be used for training")
    classes = class_info(layout, data)
    if transform is None:
        transform = build_train_transform(config) if train else build_val_transform(config)
    return ParsingDataset(files, classes, transform, train)


def resolve_split(layout: str, root: str, split: str, data=None) -> SplitFiles:
    """Find the files of `split` in `root` for `layout` and check that each listed file exists."""
    files = locate_split(layout, root, split, data)
    if not files.ids:
        raise DataError(f"split {split!r} is empty: no ids in {files.list_path}")
    for kind, paths in (("images", files.image_paths), ("labels", files.label_paths)):
        missing = missing_files(paths or [])
        if missing:
            shown = "\n  ".join(missing[:_SHOWN_MISSING])
            more = (
                f"\n  ... and {len(missing) - _SHOWN_MISSING} more" if len(missing) > _SHOWN_MISSING else ""
            )
            source = f" listed in {files.list_path}" if files.list_path else ""
            raise DataError(f"{len(missing)} of {len(paths)} {kind}{source} are missing:\n  {shown}{more}")
    return files


def locate_split(layout: str, root: str, split: str, data=None) -> SplitFiles:
    """The files `split` lists, without checking that they exist; `DataError` when the root or list is missing."""
    if not root:
        raise ConfigError("no dataset root: pass --data-root DIR (or --set data.root=DIR)")
    root_path = Path(root).expanduser()
    if not root_path.is_dir():
        raise DataError(f"dataset root not found (or not a folder): {root_path}")
    resolver = _RESOLVERS[layout]
    return resolver(root_path, split, data) if layout in _FOLDER_LAYOUTS else resolver(root_path, split)


def duplicate_ids(ids: Sequence[str]) -> List[str]:
    """The ids listed more than once, in order of first repetition."""
    seen, repeated = set(), []
    for sample_id in ids:
        if sample_id in seen and sample_id not in repeated:
            repeated.append(sample_id)
        seen.add(sample_id)
    return repeated


def missing_files(paths: Sequence[str]) -> List[str]:
    """The paths that are not existing files (cheap: one stat each)."""
    return [path for path in paths if not os.path.isfile(path)]


def read_id_list(path: Path) -> List[str]:
    """Ids of a list file: one per line, blank lines skipped; `DataError` when it is missing."""
    if not path.is_file():
        raise DataError(f"id list not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read id list {path}: {error}") from error
    return [line.strip() for line in text.splitlines() if line.strip()]


def _first_existing(candidates: Sequence[Path], kind: str, root: Path, split: str) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(c.relative_to(root)) if c.is_relative_to(root) else str(c) for c in candidates)
    raise DataError(f"no {kind} for split {split!r} under {root} (looked for: {tried})")


def _files(
    ids: List[str], images: Path, labels: Optional[Path], list_path: Path, image_ext: str, label_ext: str
) -> SplitFiles:
    return SplitFiles(
        ids=ids,
        image_paths=[str(images / f"{i}{image_ext}") for i in ids],
        label_paths=None if labels is None else [str(labels / f"{i}{label_ext}") for i in ids],
        list_path=str(list_path),
    )


def _optional_labels(candidates: Sequence[Path], split: str, root: Path) -> Optional[Path]:
    """The label folder; only a test split may lack one."""
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    if split in ("test", "testing"):
        return None
    return _first_existing(candidates, "label folder", root, split)


def _resolve_lip(root: Path, split: str) -> SplitFiles:
    prefix = "testing" if split == "test" else split
    list_name = f"{split}_id.txt"
    list_path = _first_existing(
        [root / list_name, root / "TrainVal_images" / list_name, root / "Testing_images" / list_name],
        "id list",
        root,
        split,
    )
    images = _first_existing(
        [
            root / f"{prefix}_images",
            root / "TrainVal_images" / f"{prefix}_images",
            root / "Testing_images" / f"{prefix}_images",
        ],
        "image folder",
        root,
        split,
    )
    annotations = root / "TrainVal_parsing_annotations"
    labels = _optional_labels(
        [
            root / f"{prefix}_segmentations",
            annotations / f"{prefix}_segmentations",
            annotations / "TrainVal_parsing_annotations" / f"{prefix}_segmentations",
        ],
        split,
        root,
    )
    return _files(read_id_list(list_path), images, labels, list_path, ".jpg", ".png")


_CIHP_FOLDERS = {"train": "Training", "val": "Validation", "test": "Testing"}


def _resolve_cihp(root: Path, split: str) -> SplitFiles:
    if split not in _CIHP_FOLDERS:
        raise ConfigError(f"CIHP has the splits {', '.join(_CIHP_FOLDERS)}; got {split!r}")
    folder = root / _CIHP_FOLDERS[split]
    list_path = folder / f"{split}_id.txt"
    ids = [i.zfill(7) if i.isdigit() else i for i in read_id_list(list_path)]
    images = _first_existing([folder / "Images"], "image folder", root, split)
    labels = _optional_labels([folder / "Category_ids"], split, root)
    return _files(ids, images, labels, list_path, ".jpg", ".png")


def _resolve_atr(root: Path, split: str) -> SplitFiles:
    list_path = root / f"{split}_id.txt"
    images = _first_existing([root / "JPEGImages"], "image folder", root, split)
    labels = _first_existing([root / "SegmentationClassAug"], "label folder", root, split)
    return _files(read_id_list(list_path), images, labels, list_path, ".jpg", ".png")


def voc_root(root: Path) -> Path:
    """The `VOC2012` folder, given it, its `VOCdevkit` parent, or the folder that holds `VOCdevkit`."""
    for candidate in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if (candidate / "JPEGImages").is_dir():
            return candidate
    raise DataError(
        f"no PASCAL VOC under {root}: expected VOCdevkit/VOC2012/JPEGImages, VOC2012/JPEGImages or JPEGImages"
    )


def _resolve_voc(root: Path, split: str) -> SplitFiles:
    base = voc_root(root)
    list_path = base / "ImageSets" / "Segmentation" / f"{split}.txt"
    ids = read_id_list(list_path)
    primary, augmented = base / "SegmentationClass", base / "SegmentationClassAug"
    if not primary.is_dir() and not augmented.is_dir():
        raise DataError(f"no label folder under {base}: expected SegmentationClass or SegmentationClassAug")
    label_paths = []
    for image_id in ids:
        # SSSegmentation reads SegmentationClass for trainaug and val alike; SegmentationClassAug is the fallback.
        path = primary / f"{image_id}.png"
        if not path.is_file() and (augmented / f"{image_id}.png").is_file():
            path = augmented / f"{image_id}.png"
        label_paths.append(str(path))
    return SplitFiles(
        ids=ids,
        image_paths=[str(base / "JPEGImages" / f"{i}.jpg") for i in ids],
        label_paths=label_paths,
        list_path=str(list_path),
    )


def _resolve_ppp(root: Path, split: str) -> SplitFiles:
    list_path = root / f"{split}_id.txt"
    images = _first_existing([root / f"{split}_images"], "image folder", root, split)
    labels = _optional_labels([root / f"{split}_segmentations"], split, root)
    return _files(read_id_list(list_path), images, labels, list_path, ".jpg", ".png")


def _resolve_folder(root: Path, split: str, data) -> SplitFiles:
    images = _under(root, data.images_dir)
    labels = _under(root, data.labels_dir)
    if not images.is_dir():
        raise DataError(f"image folder not found: {images} (data.images_dir)")
    if not labels.is_dir():
        raise DataError(f"label folder not found: {labels} (data.labels_dir)")
    list_path = root / f"{split}_id.txt"
    if list_path.is_file():
        ids = read_id_list(list_path)
        source = list_path
    else:
        suffix = data.image_suffix
        ids = sorted(p.name[: -len(suffix)] for p in images.iterdir() if p.name.endswith(suffix))
        source = images
    return _files(ids, images, labels, source, data.image_suffix, data.label_suffix)


def _under(root: Path, folder: str) -> Path:
    path = Path(folder).expanduser()
    return path if path.is_absolute() else root / path


_RESOLVERS: Dict[str, Callable] = {
    "lip": _resolve_lip,
    "cihp": _resolve_cihp,
    "atr": _resolve_atr,
    "voc": _resolve_voc,
    "pascal_person_part": _resolve_ppp,
    "folder": _resolve_folder,
    "fashn": _resolve_folder,  # FASHN's classes have no public dataset: your own data in the folder layout
}
_FOLDER_LAYOUTS = ("folder", "fashn")
