"""Model files other tools publish, run as they are: OOTDiffusion's / IDM-VTON's `parsing_atr.onnx` and
`parsing_lip.onnx` (SCHP exported to ONNX: input `input.1`, outputs [parsing, fusion, edge]; fusion is used).

They are recognised by their SHA-256 (the published copies) or by that graph interface (other exports of the same
networks, or the same files re-saved), and run with the SCHP recipe's simple_extractor protocol. Their graphs are
never assumed to equal the `.pth` run through PyTorch (e.g. how they represent SCHP's pyramid pooling at 512 is
their own), so they always run on ONNX Runtime or OpenVINO.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from humanparse.errors import CheckpointError

INPUT_NAME = "input.1"
FUSION_OUTPUT = 1  # outputs: [parsing, fusion, edge]
NUM_OUTPUTS = 3


@dataclass(frozen=True)
class PublishedFile:
    """A published model file: its name, size, SHA-256 and the recipe whose test protocol it runs with."""

    file_name: str
    size: int
    sha256: str
    recipe: str


PUBLISHED = (
    PublishedFile(
        "parsing_atr.onnx",
        266_859_305,
        "04c7d1d070d0e0ae943d86b18cb5aaaea9e278d97462e9cfb270cbbe4cd977f4",
        "schp_resnet101_atr",
    ),
    PublishedFile(
        "parsing_lip.onnx",
        266_863_411,
        "8436e1dae96e2601c373d1ace29c8f0978b16357d9038c17a8ba756cca376dbc",
        "schp_resnet101_lip",
    ),
)
# classes of the fusion output -> recipe, for files recognised by their interface
RECIPE_BY_CLASSES = {18: "schp_resnet101_atr", 20: "schp_resnet101_lip"}


@dataclass(frozen=True)
class ThirdPartyModel:
    """A recognised file: the recipe it runs with, the output that holds the logits, and how it was known."""

    path: Path
    recipe: str
    output_index: int
    recognised_by: str  # "sha256" or "interface"
    published: Optional[PublishedFile] = None


def sha256(path: Union[str, Path], chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _published_by_hash(path: Path) -> Optional[PublishedFile]:
    size = path.stat().st_size
    candidates = [entry for entry in PUBLISHED if entry.size == size]  # hash only files of a published size
    if not candidates:
        return None
    digest = sha256(path)
    return next((entry for entry in candidates if entry.sha256 == digest), None)


def _expected_for(path: Path) -> list:
    """The published files `path` may be a copy of, by its name (both when the name says neither)."""
    name = path.name.lower()
    named = [entry for entry in PUBLISHED if entry.file_name.split(".")[0].split("_")[1] in name]
    return named or list(PUBLISHED)


def truncated_message(path: Path, error: object) -> str:
    """The one line for a file that cannot be parsed (`INVALID_PROTOBUF`): its size against the published one."""
    size = path.stat().st_size
    expected = " or ".join(f"{entry.file_name} is {entry.size:,} bytes" for entry in _expected_for(path))
    return (
        f"{path}: cannot be read as ONNX ({str(error).splitlines()[0][:120]}); the file is {size:,} bytes and "
        f"{expected}: a truncated download? Download it again"
    )


def _load_graph(path: Path):
    from humanparse.extras import require

    onnx = require("onnx", "reading an ONNX file")
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as error:  # a truncated protobuf raises DecodeError, others their own
        raise CheckpointError(truncated_message(path, error)) from None


def interface_of(proto) -> Optional[int]:
    """The class count of a graph with the SCHP ONNX interface (input `input.1`, three outputs), else None."""
    initializers = {initializer.name for initializer in proto.graph.initializer}
    inputs = [value for value in proto.graph.input if value.name not in initializers]
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or len(proto.graph.output) != NUM_OUTPUTS:
        return None
    dims = proto.graph.output[FUSION_OUTPUT].type.tensor_type.shape.dim
    if len(dims) != 4 or not dims[1].HasField("dim_value"):
        return None
    return int(dims[1].dim_value)


def identify(path: Union[str, Path]) -> Optional[ThirdPartyModel]:
    """The recognised third-party file at `path`, or None (e.g. a file humanparse wrote).

    Raises CheckpointError with the expected size for an ONNX file that cannot be parsed (a cut-short download).
    """
    path = Path(path)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return None
    status = path.stat()
    return _identify(str(path.resolve()), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _identify(name: str, size: int, mtime_ns: int) -> Optional[ThirdPartyModel]:
    """`identify` of an unchanged file (hashing 267 MB once, not by every caller)."""
    path = Path(name)
    published = _published_by_hash(path)
    if published is not None:
        return ThirdPartyModel(path, published.recipe, FUSION_OUTPUT, "sha256", published)
    proto = _load_graph(path)
    if any(prop.key.startswith("humanparse.") for prop in proto.metadata_props):
        return None
    classes = interface_of(proto)
    if classes is None:
        return None
    if classes not in RECIPE_BY_CLASSES:
        raise CheckpointError(
            f"{path}: has SCHP's ONNX interface but {classes} classes; known: 18 (ATR) and 20 (LIP)"
        )
    return ThirdPartyModel(path, RECIPE_BY_CLASSES[classes], FUSION_OUTPUT, "interface")
