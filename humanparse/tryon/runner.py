"""`humanparse tryon` on the predict pipeline: the networks of a protocol's roles, the per-photo transform run in
the decoding workers, the batched parsing, and the output files written by the pipeline's writer thread.

The pipeline (`humanparse.inference.pipeline.run_pipeline`) is reused as it is: it streams, resumes, writes
atomically and refuses outputs that would replace an input; this module gives it a predictor and an output spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from humanparse.errors import ConfigError, DataError
from humanparse.inference.prediction_io import PhotoItem, png_bytes, write_atomic
from humanparse.tryon.protocol import NetworkRole, TryonProtocol

PathLike = Union[str, Path]
MODEL_FILE_SUFFIXES = (".onnx", ".xml")


def read_photo(path: str, max_pixels: Optional[float] = None) -> Image.Image:
    """A photo decoded as the try-on repositories decode it: PIL, no EXIF rotation (`Image.open`); `max_pixels`
    refuses a larger image from its header, before decoding."""
    import io

    from humanparse.data.io import check_complete, check_pixels, read_bytes

    data = read_bytes(path, "image")
    if max_pixels is not None:
        check_pixels(data, path, max_pixels)
    check_complete(data, path, "image")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"image cannot be decoded ({error}): {path}") from None
    return image


# ------------------------------------------------------------------------------------------------ the networks
def role_predictor(role: NetworkRole, model: Optional[PathLike], backend: Optional[str], device: str = "cpu"):
    """The Predictor of one role from `--atr`/`--lip`'s value (None: the role's recipe with its zoo weights).

    A zoo name or checkpoint runs on torch with the role's recipe (a humanparse checkpoint's own config when it
    stores one); a model file (.onnx, .xml: humanparse's fp32/int8, or OOTDiffusion's `parsing_*.onnx`) runs on
    `backend` (default: openvino for .xml; for .onnx auto, ONNX Runtime or OpenVINO as measured faster) and brings
    its recipe.
    """
    from humanparse.inference.backends import create_predictor

    source = str(model) if model is not None else role.recipe
    source = _zoo_model_file(source) or source
    suffix = Path(source).suffix.lower()
    if suffix in MODEL_FILE_SUFFIXES:
        if not Path(source).is_file():
            raise DataError(f"--{role.name} {source}: no such model file")
        runtime = backend if backend not in (None, "torch") else ("openvino" if suffix == ".xml" else "auto")
        return create_predictor(None, source, backend=runtime, device=device, scales=[1.0], flip=False)
    if backend not in (None, "torch", "auto"):
        raise ConfigError(
            f"--{role.name} {source} is a checkpoint or zoo name, which runs on torch; --backend {backend} needs "
            "model files (.onnx, .xml) for --atr and --lip"
        )
    config = _checkpoint_config(source) or role.recipe
    return create_predictor(config, source, backend="torch", device=device, scales=[1.0], flip=False)


def _zoo_model_file(source: str) -> Optional[str]:
    """The verified local copy of a zoo name whose file is a model file (OOTDiffusion's `ootd_parsing_atr`,
    `ootd_parsing_lip`), else None."""
    if Path(source).exists() or Path(source).suffix:
        return None
    from humanparse import zoo

    entry = zoo.get_entry(source)
    if entry is None or Path(entry.path_name).suffix.lower() not in MODEL_FILE_SUFFIXES:
        return None
    return str(zoo.resolve(source))


def _checkpoint_config(source: str):
    """The config a humanparse checkpoint stores (None for a zoo name or a reference checkpoint)."""
    path = Path(source)
    if not path.is_file():
        return None
    from humanparse.configs import Config
    from humanparse.models.checkpoint_io import read_checkpoint

    checkpoint = read_checkpoint(path)
    if isinstance(checkpoint, dict) and checkpoint.get("format") == "humanparse" and checkpoint.get("config"):
        return Config.from_dict(checkpoint["config"])
    return None


def check_classes(role: NetworkRole, predictor) -> None:
    """A role's network must give its recipe's classes (an ATR file for --atr, a LIP one for --lip)."""
    from humanparse.configs import get_config
    from humanparse.data.labels import dataset_classes

    expected = dataset_classes(get_config(role.recipe).data)
    if tuple(predictor.class_names) != tuple(expected.class_names):
        raise ConfigError(
            f"--{role.name}: the model gives {predictor.num_classes} classes "
            f"({', '.join(predictor.class_names[:4])}, ...); this role needs {role.recipe}'s "
            f"{expected.num_classes}"
        )


# ------------------------------------------------------------------------------------- the pipeline's predictor
class TryonTransform:
    """Run in the decoding workers: the protocol's pictures and each role's network input (picklable)."""

    def __init__(self, protocol: TryonProtocol, transforms: Dict[str, Any]) -> None:
        self.protocol = protocol
        self.transforms = transforms

    def __call__(self, image: Image.Image) -> Dict[str, Any]:
        photo, parsed = self.protocol.prepare(image)
        sample: Dict[str, Any] = {"photo": photo, "meta": {"original_size": parsed.shape[:2]}}
        for role, transform in self.transforms.items():
            sample[role] = transform(parsed)
        return sample


class TryonPredictor:
    """What `run_pipeline` needs of a predictor: `read`, `transform`, `device`, `predict_samples`; the labels it
    returns per photo are the protocol's map, with the photo kept for the outputs."""

    def __init__(self, protocol: TryonProtocol, predictors: Dict[str, Any]) -> None:
        self.protocol = protocol
        self.predictors = predictors
        self.device = "cpu"
        self.read = read_photo
        self.transform = TryonTransform(protocol, {name: p.transform for name, p in predictors.items()})

    def predict_samples(
        self, samples: Sequence[Dict[str, Any]], with_logits: bool = False
    ) -> Tuple[List[TryonParse], None]:
        labels = {
            name: predictor.predict_samples([sample[name] for sample in samples])[0]
            for name, predictor in self.predictors.items()
        }
        results = []
        for index, sample in enumerate(samples):
            parse = self.protocol.combine({name: labels[name][index] for name in self.predictors})
            results.append(TryonParse(parse, np.asarray(sample["photo"])))
        return results, None

    def __call__(self, image: Union[PathLike, Image.Image], keypoints: Optional[np.ndarray] = None):
        """The protocol's outputs (suffix -> PIL image) of one photo (a path or a PIL image)."""
        picture = read_photo(str(image)) if isinstance(image, (str, Path)) else image
        sample = self.transform(picture)
        parsed = self.predict_samples([sample])[0][0]
        return self.protocol.outputs(parsed.parse, parsed.photo, keypoints)


@dataclass
class TryonParse:
    """One photo's protocol map and the picture the outputs are made from."""

    parse: np.ndarray
    photo: np.ndarray


def build_tryon_predictor(
    protocol: TryonProtocol,
    models: Optional[Dict[str, Optional[PathLike]]] = None,
    backend: Optional[str] = None,
    device: str = "cpu",
) -> TryonPredictor:
    """The TryonPredictor of `protocol` with `models` (role -> zoo name, checkpoint or model file; None or
    missing: the role's default)."""
    models = models or {}
    unknown = set(models) - {role.name for role in protocol.roles}
    if unknown:
        raise ConfigError(f"the {protocol.name} protocol has no network {', '.join(sorted(unknown))}")
    predictors = {}
    for role in protocol.roles:
        predictor = role_predictor(role, models.get(role.name), backend, device)
        check_classes(role, predictor)
        predictors[role.name] = predictor
    return TryonPredictor(protocol, predictors)


# ------------------------------------------------------------------------------------------ the pipeline's spec
@dataclass
class TryonOutputs:
    """What `run_pipeline` needs of an output spec: each photo's protocol files, with its keypoints."""

    protocol: TryonProtocol
    keypoints: Dict[str, Optional[np.ndarray]] = field(default_factory=dict)  # relative stem -> points
    keep_image: bool = False  # the photo travels inside the labels (TryonParse)
    logits: bool = False

    @property
    def suffixes(self) -> Tuple[str, ...]:
        return tuple(self.protocol.suffixes)

    def paths(self, out: Path, item: PhotoItem) -> List[Path]:
        return [out / f"{item.relative}{suffix}" for suffix in self.suffixes]

    def done(self, out: Path, item: PhotoItem) -> bool:
        return all(path.is_file() for path in self.paths(out, item))

    def write(self, out: Path, item: PhotoItem, labels: TryonParse, logits=None, image=None) -> None:
        files = self.protocol.outputs(labels.parse, labels.photo, self.keypoints.get(item.relative))
        base = out / item.relative
        for suffix, picture in files.items():
            write_atomic(base.with_name(base.name + suffix), png_bytes(picture))
