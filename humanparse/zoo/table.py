"""The model zoo as data: every published weights file humanparse knows, where it comes from, and on what terms.

Each entry records, per file: its name (the path it has in the cache and in a mirror folder), its size in bytes
and SHA-256 where known, and its sources in order (the authors' original first, then mirrors pinned to a
commit). Per entry: the licence of the weights with a yes / no / unknown for commercial use, and what the
weights were trained on. Licences are recorded as their hosts state them, not as legal advice.

An entry need not have a recipe (the ONNX and SegFormer files are run by their own code paths), and an entry
may be a bundle: a folder of files (a Hugging Face model folder: config.json + model.safetensors).

Hashes and sizes come from the published copies (Git LFS records of two or more mirrors where possible); a file
whose hash is not known is checked against the hash recorded at its first download instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from humanparse.errors import ConfigError

# how a source is fetched: "http" (a direct link), "drive" (a Google Drive file: the large-file confirmation is
# answered), or by hand: "drive_folder" (a Drive folder to open in a browser), "baidu" (Baidu Netdisk)
AUTOMATIC_KINDS = ("http", "drive")
MANUAL_KINDS = ("drive_folder", "baidu")
COMMERCIAL = ("yes", "no", "unknown")


@dataclass(frozen=True)
class Source:
    """One place a file can be fetched from."""

    url: str
    label: str  # who publishes it, shown in messages: "authors (SCHP README)", "mirror: Hugging Face ..."
    kind: str = "http"
    code: str = ""  # Baidu's extraction code
    manual_hint: str = ""  # what to pick in a folder or share page (manual kinds)

    @property
    def automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS

    @property
    def drive_id(self) -> str:
        """The file id of a Google Drive link (`/file/d/ID/...`, `?id=ID`, `/folders/ID`)."""
        match = re.search(r"(?:/d/|[?&]id=|/folders/)([A-Za-z0-9_-]{10,})", self.url)
        if not match:
            raise ConfigError(f"no Google Drive id in {self.url}")
        return match.group(1)


@dataclass(frozen=True)
class ZooFile:
    """A published file: `name` is its path in the cache and in a mirror (`<mirror>/<name>`)."""

    name: str
    size: Optional[int]
    sha256: Optional[str]
    sources: Tuple[Source, ...]

    @property
    def automatic_sources(self) -> Tuple[Source, ...]:
        return tuple(source for source in self.sources if source.automatic)

    @property
    def manual_sources(self) -> Tuple[Source, ...]:
        return tuple(source for source in self.sources if not source.automatic)


@dataclass(frozen=True)
class Licence:
    """The licence of a set of weights as stated where they are hosted, and whether it allows commercial use."""

    name: str
    short: str  # for tables
    commercial: str  # "yes", "no" or "unknown"
    note: str = ""
    url: str = ""  # the licence text, where one is published


@dataclass(frozen=True)
class ZooEntry:
    """Published weights under a name: usually a recipe's name (`humanparse configs`), not necessarily."""

    name: str
    family: str
    classes: int
    labels: str  # the label layout: lip, atr, cihp, voc, pascal_person_part, fashn
    files: Tuple[ZooFile, ...]
    licence: Licence
    trained_on: str
    bundle: str = ""  # a folder of files (its path in the cache); "" for a single file
    notes: str = ""

    @property
    def path_name(self) -> str:
        """The path, relative to the cache, that the weights argument resolves to: the file or the bundle."""
        return self.bundle or self.files[0].name

    @property
    def size(self) -> Optional[int]:
        """Total bytes, None when any file's size is unknown."""
        sizes = [file.size for file in self.files if file.size is not None]
        return sum(sizes) if len(sizes) == len(self.files) else None

    @property
    def automatic(self) -> bool:
        """Whether every file has a source `humanparse download` can fetch by itself."""
        return all(file.automatic_sources for file in self.files)


# ---------------------------------------------------------------------------------------------------------------
# Sources


def huggingface(repo: str, commit: str, path: str, space: bool = False, authors: bool = False) -> Source:
    """A Hugging Face file pinned to a commit (`resolve/<commit>/<path>` is a direct link)."""
    kind = "spaces/" if space else ""
    return Source(
        f"https://huggingface.co/{kind}{repo}/resolve/{commit}/{path}",
        f"{'authors' if authors else 'mirror'}: Hugging Face {'Space ' if space else ''}{repo} @ {commit[:7]}",
    )


def drive_file(file_id: str, label: str) -> Source:
    return Source(f"https://drive.google.com/file/d/{file_id}/view", label, kind="drive")


SSSEG_MODELSTORE = "https://github.com/SegmentationBLWX/modelstore/releases/download/ssseg_ce2p"
_APACHEONE = (
    "ApacheOne/ComfyUI-human-parser_models_ATR_LIP_Pascal",
    "34da45d44fc2b7efe6a54308f0a3ceac08470a19",
)
_IDM_VTON_SPACE = ("yisol/IDM-VTON", "938e5154885bb5de61afde9c7e16ae2558853fcd")
_IDM_VTON_MODEL = ("yisol/IDM-VTON", "b2c05dc002d881cbc5d26e2cc2164c54f5c8458b")
_FASHN = ("fashn-ai/fashn-human-parser", "1f80c34dbab321c5730dda5c3fea279fd3e97498")
_B2_CLOTHES = ("mattmdjaga/segformer_b2_clothes", "584abc1e1d260e23c0fc627c5217a09b2b461046")
_OOTD_ORIGINAL = "https://huggingface.co/levihsu/OOTDiffusion/resolve/main/checkpoints/humanparsing"

# ---------------------------------------------------------------------------------------------------------------
# Licences (as stated; not legal advice)

SCHP_LICENCE = Licence(
    "none stated for the weights (SCHP's code: MIT)",
    "none stated",
    "unknown",
    "the OOTDiffusion / IDM-VTON copies of these weights are published under CC BY-NC-SA 4.0",
)
OOTD_LICENCE = Licence("CC BY-NC-SA 4.0 (OOTDiffusion and IDM-VTON copies)", "CC BY-NC-SA 4.0", "no")
SEGFORMER_LICENCE = Licence(
    "NVIDIA Source Code License for SegFormer (non-commercial); FASHN states its weights inherit it",
    "NVIDIA SegFormer",
    "no",
    url="https://github.com/NVlabs/SegFormer/blob/master/LICENSE",
)
B2_CLOTHES_LICENCE = Licence(
    "MIT according to its model card",
    "MIT (card)",
    "unknown",
    "fine-tuned from NVIDIA's MiT-B2, whose licence (NVIDIA Source Code License for SegFormer) is non-commercial",
)
SSSEG_LICENCE = Licence(
    "none stated for the weights (SSSegmentation's code: Apache-2.0)", "none stated", "unknown"
)
NO_LICENCE = Licence("none stated (the repository has no licence file)", "none stated", "unknown")

# ---------------------------------------------------------------------------------------------------------------
# The entries

_SCHP = {
    # key: (dataset shown, label layout, classes, file, size, sha256, Drive id)
    "lip": (
        "LIP train (30,462 images)",
        "lip",
        20,
        "exp-schp-201908261155-lip.pth",
        267_449_349,
        "24fa3254ceeb74c8435458994a64b522fb439a3635b7b86ff470457e0413da00",
        "1k4dllHpu0bdx38J7H28rVVLpU-kOHmnH",
    ),
    "atr": (
        "ATR (17,000+ images)",
        "atr",
        18,
        "exp-schp-201908301523-atr.pth",
        267_445_237,
        "e9d7c91ce3b4e7133df56b599fc817b533e3439c5e8d282a59126d2fda339a2a",
        "1ruJg4lqR_jgQPj-9K0PP-L2vJERYOxLP",
    ),
    "pascal": (
        "Pascal-Person-Part (3,000+ images)",
        "pascal_person_part",
        7,
        "exp-schp-201908270938-pascal-person-part.pth",
        267_422_621,
        "3b03d343c39fb0696f75d45c44c67b2fc23f5d0bf0925a82c0465e415799fa85",
        "1E5YwNKW2VOEayK9mWCS3Kpsxf-3z04ZE",
    ),
}


def _schp_entries() -> List[ZooEntry]:
    entries = []
    for key, (dataset, labels, classes, file_name, size, sha256, drive_id) in _SCHP.items():
        sources = (
            drive_file(drive_id, "authors: Google Drive (SCHP README)"),
            # the mirror keeps the authors' file names at its root
            huggingface(*_APACHEONE, file_name),
        )
        entries.append(
            ZooEntry(
                name=f"schp_resnet101_{key}",
                family="SCHP (Augmented CE2P, ResNet-101)",
                classes=classes,
                labels=labels,
                files=(ZooFile(file_name, size, sha256, sources),),
                licence=SCHP_LICENCE,
                trained_on=f"{dataset}; backbone from ImageNet",
            )
        )
    return entries


_OOTD = {
    # key: (labels, classes, file, size, sha256, pinned mirror)
    "atr": (
        "atr",
        18,
        "parsing_atr.onnx",
        266_859_305,
        "04c7d1d070d0e0ae943d86b18cb5aaaea9e278d97462e9cfb270cbbe4cd977f4",
        huggingface(*_IDM_VTON_SPACE, "ckpt/humanparsing/parsing_atr.onnx", space=True),
    ),
    "lip": (
        "lip",
        20,
        "parsing_lip.onnx",
        266_863_411,
        "8436e1dae96e2601c373d1ace29c8f0978b16357d9038c17a8ba756cca376dbc",
        huggingface(*_IDM_VTON_MODEL, "humanparsing/parsing_lip.onnx"),
    ),
}


def _ootd_entries() -> List[ZooEntry]:
    entries = []
    for key, (labels, classes, file_name, size, sha256, mirror) in _OOTD.items():
        # the authors' copy is not pinned to a commit; the hash check makes up for it
        original = Source(
            f"{_OOTD_ORIGINAL}/{file_name}", "authors: Hugging Face levihsu/OOTDiffusion (main)"
        )
        entries.append(
            ZooEntry(
                name=f"ootd_parsing_{key}",
                family="SCHP as ONNX (OOTDiffusion)",
                classes=classes,
                labels=labels,
                files=(ZooFile(file_name, size, sha256, (original, mirror)),),
                licence=OOTD_LICENCE,
                trained_on=f"{key.upper()}: SCHP's {key.upper()} network exported to ONNX by OOTDiffusion",
                notes="truncated copies fail with INVALID_PROTOBUF (OOTDiffusion #118, #183, #189); the size "
                "and SHA-256 checks catch them",
            )
        )
    return entries


def _segformer_entries() -> List[ZooEntry]:
    fashn = ZooEntry(
        name="fashn_segformer_b4",
        family="SegFormer-B4 (FASHN human parser)",
        classes=18,
        labels="fashn",
        bundle="fashn_segformer_b4",
        files=(
            ZooFile(
                "fashn_segformer_b4/config.json",
                1_654,
                "87bd5b66419dbfa7c02cfbeb94e292454863b1606c5df29526b19a6c1de70d9f",
                (huggingface(*_FASHN, "config.json", authors=True),),
            ),
            ZooFile(
                "fashn_segformer_b4/model.safetensors",
                256_146_352,
                "e43c8c8a9b04f28798f0a4630cf18caa2cdb27a0d454fae43a5716e6f7078244",
                (huggingface(*_FASHN, "model.safetensors", authors=True),),
            ),
        ),
        licence=SEGFORMER_LICENCE,
        trained_on="FASHN's fashion-photo data (see its model card), from NVIDIA's ImageNet MiT-B4",
        notes="the authors' own Hugging Face repository, pinned to a commit",
    )
    clothes = ZooEntry(
        name="segformer_b2_clothes",
        family="SegFormer-B2 (clothes)",
        classes=18,
        labels="atr",
        bundle="segformer_b2_clothes",
        files=(
            # no published hash for config.json: its hash is recorded at the first download
            ZooFile(
                "segformer_b2_clothes/config.json",
                None,
                None,
                (huggingface(*_B2_CLOTHES, "config.json", authors=True),),
            ),
            ZooFile(
                "segformer_b2_clothes/model.safetensors",
                109_493_236,
                "8f86fd90c567afd4370b3cc3a7e81ed767a632b2832a738331af660acc0c4c68",
                (huggingface(*_B2_CLOTHES, "model.safetensors", authors=True),),
            ),
        ),
        licence=B2_CLOTHES_LICENCE,
        trained_on="ATR's 18 labels (per its model card), from NVIDIA's ImageNet MiT-B2",
        notes="config.json has no known hash",
    )
    return [fashn, clothes]


def _official_entries() -> List[ZooEntry]:
    ce2p = ZooEntry(
        name="ce2p_official_resnet101_lip",
        family="CE2P (official, ResNet-101)",
        classes=20,
        labels="lip",
        files=(
            ZooFile(
                "ce2p_official_resnet101_lip/LIP_epoch_149.pth",
                None,
                None,
                (
                    Source(
                        "https://drive.google.com/drive/folders/19I_MzMYzm2EYNvid9ySRvq66g_tZgkjm",
                        "authors: Google Drive folder (liutinglt/CE2P README)",
                        kind="drive_folder",
                        manual_hint="the trained LIP model (run_evaluate.sh names it LIP_epoch_149.pth)",
                    ),
                    Source(
                        "https://pan.baidu.com/s/15Fxrqe-kF4-tNuh3gka2DQ",
                        "authors: Baidu Netdisk (liutinglt/CE2P README; no extraction code given)",
                        kind="baidu",
                        manual_hint="the trained LIP model (LIP_epoch_149.pth)",
                    ),
                ),
            ),
        ),
        licence=NO_LICENCE,
        trained_on="LIP train; backbone from ImageNet",
    )
    cdgnet = ZooEntry(
        name="cdgnet_resnet101_lip",
        family="CDGNet (ResNet-101)",
        classes=20,
        labels="lip",
        files=(
            ZooFile(
                "cdgnet_resnet101_lip/LIP_epoch_149.pth",
                None,
                None,
                (
                    Source(
                        "https://pan.baidu.com/s/1WyifPOOE0SqIzCje-d1kzA",
                        "authors: Baidu Netdisk (tjpulkl/CDGNet README)",
                        kind="baidu",
                        code="81la",
                        manual_hint="LIP_epoch_149.pth",
                    ),
                ),
            ),
        ),
        licence=NO_LICENCE,
        trained_on="LIP train; backbone from ImageNet",
        notes="CDGNet #6: a Google Drive copy that circulates misses weights; the Baidu file is the authors'",
    )
    csenet = ZooEntry(
        name="csenet_resnet101_lip",
        family="CSENet (ResNet-101)",
        classes=20,
        labels="lip",
        files=(
            ZooFile(
                "csenet_resnet101_lip/LIP_epoch_Best.pth",
                None,
                None,
                (
                    Source(
                        "https://pan.baidu.com/s/1-9pR_ycvqkWBnDoKyI2nUw",
                        "authors: Baidu Netdisk (tjpulkl/BSSGNet README)",
                        kind="baidu",
                        code="bb9c",
                        manual_hint="LIP_epoch_Best.pth",
                    ),
                ),
            ),
        ),
        licence=NO_LICENCE,
        trained_on="LIP train; backbone from ImageNet",
    )
    return [ce2p, cdgnet, csenet]


_SSSEG_DATASETS = {
    # dataset: (what it was trained on, label layout, classes)
    "lip": ("LIP train", "lip", 20),
    "cihp": ("CIHP train", "cihp", 20),
    "atr": ("ATR train", "atr", 18),
    "voc": ("PASCAL VOC 2012 train_aug", "voc", 21),
}


def _sssegmentation_entries() -> List[ZooEntry]:
    entries = []
    for depth in (50, 101):
        for output_stride in (8, 16):
            for dataset, (trained_on, labels, classes) in _SSSEG_DATASETS.items():
                name = f"ce2p_resnet{depth}os{output_stride}_{dataset}"
                file_name = f"{name}_train.pth"  # the model store's name for every config
                source = Source(
                    f"{SSSEG_MODELSTORE}/{file_name}", "authors: SSSegmentation model store (GitHub)"
                )
                entries.append(
                    ZooEntry(
                        name=name,
                        family=f"CE2P (SSSegmentation, ResNet-{depth} OS{output_stride})",
                        classes=classes,
                        labels=labels,
                        files=(ZooFile(file_name, None, None, (source,)),),
                        licence=SSSEG_LICENCE,
                        trained_on=f"{trained_on}; backbone ResNet-{depth} V1c from ImageNet (OpenMMLab)",
                    )
                )
    return entries


def _build() -> Dict[str, ZooEntry]:
    entries = (
        _schp_entries()
        + _ootd_entries()
        + _segformer_entries()
        + _official_entries()
        + _sssegmentation_entries()
    )
    return {entry.name: entry for entry in entries}


ZOO: Dict[str, ZooEntry] = _build()


def zoo_names() -> List[str]:
    """Every zoo name, in the table's order."""
    return list(ZOO)


def get_entry(name: str) -> Optional[ZooEntry]:
    """The zoo entry of a name, or None."""
    return ZOO.get(name)


def entry_of_file(file_name: str) -> Optional[ZooEntry]:
    """The entry one of whose files has this base name (e.g. `exp-schp-201908261155-lip.pth`), or None.

    Only unambiguous names count: `LIP_epoch_149.pth` belongs to two entries and names neither.
    """
    found = [e for e in ZOO.values() for f in e.files if f.name.rsplit("/", 1)[-1] == file_name]
    return found[0] if len(found) == 1 else None


def weights_suffix(weights: str) -> str:
    """The lower-case suffix of a weights argument's file: a path's own, or a zoo entry's file (".onnx" for
    `ootd_parsing_atr`), so that a runtime can be chosen before anything is resolved."""
    entry = get_entry(weights)
    return Path(entry.path_name if entry is not None else weights).suffix.lower()
