"""`Predictor`: label maps (and logits) for photos, with the recipe's test protocol and TTA.

predictor = Predictor("csenet_resnet101_lip", "LIP_epoch_Best.pth")
labels = predictor("person.jpg")            # (H, W) uint8 at the photo's size
labels = predictor(cv2.imread("person.jpg"))                  # a BGR array (OpenCV's order, the default)
labels = predictor(np.asarray(pil_image), channel_order="rgb")  # an RGB array must say so
labels = predictor(Image.open("person.jpg"))  # a PIL Image, any mode (RGBA, L, P...): read as RGB
logits = predictor.predict_logits(image)    # (K, H, W) float32

An array's channel order is never guessed from its pixels: say `channel_order="rgb"` for RGB arrays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast

import numpy as np
import torch
from PIL import Image
from torch import nn

from humanparse.configs import Config, load_config
from humanparse.data.io import read_image
from humanparse.data.labels import dataset_classes
from humanparse.data.transforms import build_val_transform
from humanparse.errors import DataError
from humanparse.hardware import resolve_device
from humanparse.inference.runtimes import Forward, ModelSpec, Network, build_network
from humanparse.inference.tta import TestTimeAugmentation

ImageInput = Union[str, Path, np.ndarray, Image.Image]
CHANNEL_ORDERS = ("bgr", "rgb")


def _source(checkpoint: Optional[Union[str, Path]]) -> str:
    return str(checkpoint) if checkpoint is not None else "the model"


def resolve_config(config: Union[str, Path, Config]) -> Config:
    """A Config from a recipe name, a YAML path or a Config."""
    return config if isinstance(config, Config) else load_config(str(config))


class Predictor:
    """Run a parsing network on photos with `config.eval`'s protocol, scales and flip.

    `config`: a recipe name, YAML path or Config. Weights come from `checkpoint` (a file or zoo name), or pass
    a ready `model`, or a `network` from `humanparse.inference.runtimes.build_network` (e.g. a model file on a
    runtime), or a bare `forward` function. `precision` "bf16"/"fp16" runs the network under autocast;
    `optimize` folds BatchNorm into the convolutions and uses channels_last (the outputs are unchanged; a given
    `model` is copied, never modified).
    """

    def __init__(
        self,
        config: Union[str, Path, Config],
        checkpoint: Optional[Union[str, Path]] = None,
        *,
        model: Optional[nn.Module] = None,
        forward: Optional[Forward] = None,
        network: Optional[Network] = None,
        device: str = "cpu",
        scales: Optional[Sequence[float]] = None,
        flip: Optional[bool] = None,
        precision: str = "fp32",
        optimize: bool = True,
    ) -> None:
        self.config = resolve_config(config)
        if network is None:
            if forward is not None:
                network = Network(forward, resolve_device(device), _source(checkpoint), model)
            else:
                spec = ModelSpec(self.config, checkpoint, model)
                network = build_network(spec, "torch", device, precision, optimize=optimize)
        self.network = network
        self.device = network.device
        self.model = network.model
        classes = dataset_classes(self.config.data)
        self.num_classes = classes.num_classes
        self.class_names = classes.class_names
        self.transform = build_val_transform(self.config)
        self.tta = TestTimeAugmentation.from_config(
            network.forward,
            self.config,
            scales=scales,
            flip=flip,
            for_prediction=True,
            source=network.source,
        )

    def with_tta(self, scales: Optional[Sequence[float]] = None, flip: Optional[bool] = None) -> Predictor:
        """A Predictor sharing this one's network, with other test scales / flip (None: the recipe's)."""
        return Predictor(self.config, network=self.network, scales=scales, flip=flip)

    def _prepare(self, image: ImageInput, channel_order: str = "bgr") -> Dict[str, Any]:
        """The validation transform's sample of one input: a path, a PIL Image, or a uint8 (H, W, 3) array whose
        channels are in `channel_order` ("bgr", OpenCV's, or "rgb")."""
        if channel_order not in CHANNEL_ORDERS:
            raise DataError(f"channel_order must be 'bgr' or 'rgb', not {channel_order!r}")
        if isinstance(image, (str, Path)):
            image = read_image(image)  # BGR
        elif isinstance(image, Image.Image):
            image = np.asarray(image.convert("RGB"))[
                :, :, ::-1
            ]  # any mode (RGBA, L, P...) read as RGB, to BGR
        elif (
            not isinstance(image, np.ndarray)
            or image.ndim != 3
            or image.shape[2] != 3
            or image.dtype != np.uint8
        ):
            raise DataError(
                "expected a uint8 image array of shape (H, W, 3) (BGR, or RGB with channel_order='rgb'), "
                "a PIL Image or a path to an image file"
            )
        elif channel_order == "rgb":
            image = image[:, :, ::-1]
        return self.transform(np.ascontiguousarray(image))

    def predict_batch(
        self, images: Sequence[ImageInput], with_logits: bool = False, channel_order: str = "bgr"
    ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
        """Label maps (and, with `with_logits`, float32 K×H×W logits) of several images at their own sizes.

        `images`: paths, PIL Images or uint8 (H, W, 3) arrays in `channel_order` ("bgr" or "rgb").
        """
        samples = [self._prepare(image, channel_order) for image in images]
        return self.predict_samples(samples, with_logits)

    def preprocess(self, image: ImageInput, channel_order: str = "bgr") -> Dict[str, Any]:
        """The sample (`image` tensor at the protocol's input size, `meta`) of one photo (inputs as for
        `__call__`); a pure function of the photo, so it can run in a DataLoader worker."""
        return self._prepare(image, channel_order)

    def predict_samples(
        self, samples: Sequence[Dict[str, Any]], with_logits: bool = False
    ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
        """Label maps (and logits) of `preprocess`ed samples at their photos' sizes; equal input shapes share
        one forward pass."""
        labels: List[Optional[np.ndarray]] = [None] * len(samples)
        logits: List[Optional[np.ndarray]] = [None] * len(samples)
        groups: Dict[Tuple[int, ...], List[int]] = {}
        for index, sample in enumerate(samples):  # keep-ratio inputs differ in size: batch equal shapes only
            groups.setdefault(tuple(sample["image"].shape), []).append(index)
        for indices in groups.values():
            batch = torch.stack([samples[i]["image"] for i in indices]).to(self.device, non_blocking=True)
            metas = [samples[i]["meta"] for i in indices]
            group_labels, group_logits = self.tta.predict(batch, metas, with_logits)
            for position, index in enumerate(indices):
                labels[index] = group_labels[position]
                if group_logits is not None:
                    logits[index] = group_logits[position]
        # every index was filled: each sample belongs to one group
        return cast(List[np.ndarray], labels), (cast(List[np.ndarray], logits) if with_logits else None)

    def __call__(self, image: ImageInput, channel_order: str = "bgr") -> np.ndarray:
        """The (H, W) uint8 label map of one image at its original size.

        `image`: a path, a PIL Image, or a uint8 (H, W, 3) array whose channels are in `channel_order` ("bgr",
        as `cv2.imread` gives, or "rgb", as `np.asarray(pil_image)` gives).
        """
        return self.predict_batch([image], channel_order=channel_order)[0][0]

    def predict_logits(self, image: ImageInput, channel_order: str = "bgr") -> np.ndarray:
        """The (K, H, W) float32 logits of one image at its original size (inputs as for `__call__`)."""
        logits = self.predict_batch([image], with_logits=True, channel_order=channel_order)[1]
        assert logits is not None  # asked for
        return logits[0]
