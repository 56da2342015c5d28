"""`Predictor`: label maps (and logits) for photos, with the recipe's test protocol and TTA.

predictor = Predictor("csenet_resnet101_lip", "LIP_epoch_Best.pth")
labels = predictor("person.jpg")            # (H, W) uint8 at the photo's size
logits = predictor.predict_logits(image)    # (K, H, W) float32
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from humanparse.configs import Config, load_config
from humanparse.engine.tta import Forward, TestTimeAugmentation, model_forward
from humanparse.errors import CheckpointError, ConfigError, DataError

ImageInput = Union[str, Path, np.ndarray]


def resolve_config(config: Union[str, Path, Config]) -> Config:
    """A Config from a recipe name, a YAML path or a Config."""
    return config if isinstance(config, Config) else load_config(str(config))


def load_model(config: Config, checkpoint: Union[str, Path], device: str = "cpu") -> nn.Module:
    """Build `config`'s network, load `checkpoint` (CheckpointError when it is missing or does not fit), eval."""
    from humanparse.models.builder import build_model
    from humanparse.models.weights import load_weights

    model = build_model(config)
    load_weights(model, str(checkpoint))
    return model.eval().to(device)


def onnx_forward(path: Union[str, Path]) -> Forward:
    """An ONNX file written by `humanparse export` (input `image`, first output `seg`) as a forward function."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such ONNX file")
    try:
        import onnxruntime
    except ImportError as error:
        raise ConfigError("--backend onnxruntime needs `pip install onnxruntime`") from error
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:
        raise CheckpointError(f"{path}: onnxruntime cannot load it: {error}") from error
    model_input = session.get_inputs()[0]
    fixed_batch = isinstance(model_input.shape[0], int)

    def forward(images: torch.Tensor) -> torch.Tensor:
        array = images.detach().cpu().numpy().astype(np.float32)
        # a static export takes one image at a time; scales need an export with --dynamic
        chunks = [array[i : i + 1] for i in range(len(array))] if fixed_batch else [array]
        try:
            outputs = [session.run(None, {model_input.name: chunk})[0] for chunk in chunks]
        except Exception as error:
            raise ConfigError(
                f"{path}: the ONNX model rejected an input of shape {chunks[0].shape} "
                f"(expects {model_input.shape}); export with --dynamic for other sizes or scales"
            ) from error
        return torch.from_numpy(np.concatenate(outputs))

    return forward


class Predictor:
    """Run a parsing network on photos with `config.eval`'s protocol, scales and flip.

    `config`: a recipe name, YAML path or Config. Weights come from `checkpoint` (a file or zoo name), or pass
    a ready `model`. `forward` replaces the network (e.g. `onnx_forward(path)`). `precision` "bf16"/"fp16" runs
    the network under autocast; `optimize` folds BatchNorm into the convolutions and uses channels_last (the
    outputs are unchanged; a given `model` is copied, never modified).
    """

    def __init__(
        self,
        config: Union[str, Path, Config],
        checkpoint: Optional[Union[str, Path]] = None,
        *,
        model: Optional[nn.Module] = None,
        forward: Optional[Forward] = None,
        device: str = "cpu",
        scales: Optional[Sequence[float]] = None,
        flip: Optional[bool] = None,
        precision: str = "fp32",
        optimize: bool = True,
    ) -> None:
        from humanparse.data.datasets import dataset_classes
        from humanparse.data.transforms import build_val_transform

        self.config = resolve_config(config)
        self.device = torch.device(device)
        if forward is None:
            owned = model is None
            if owned:
                if checkpoint is None:
                    raise CheckpointError("Predictor needs a checkpoint, a model or a forward function")
                model = load_model(self.config, checkpoint, device)
            self.model = model.eval().to(self.device)
            if optimize:
                from humanparse.models.inference import prepare_for_inference

                example = torch.zeros(1, 3, 65, 65, device=self.device)
                self.model = prepare_for_inference(self.model, example, inplace=owned)
            forward = model_forward(self.model, self.config.eval.output, precision)
        else:
            self.model = model
        classes = dataset_classes(self.config.data)
        self.num_classes = classes.num_classes
        self.class_names = classes.class_names
        self.transform = build_val_transform(self.config)
        self.tta = TestTimeAugmentation.from_config(
            forward,
            self.config,
            classes.flip_pairs,
            classes.num_classes,
            scales=scales,
            flip=flip,
            for_prediction=True,
        )

    def _prepare(self, image: ImageInput) -> Dict[str, Any]:
        if isinstance(image, (str, Path)):
            from humanparse.data.io import read_image

            image = read_image(image)
        if (
            not isinstance(image, np.ndarray)
            or image.ndim != 3
            or image.shape[2] != 3
            or image.dtype != np.uint8
        ):
            raise DataError("expected a BGR uint8 image of shape (H, W, 3) or a path to an image file")
        return self.transform(image)

    def predict_batch(
        self, images: Sequence[ImageInput], with_logits: bool = False
    ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
        """Label maps (and, with `with_logits`, float32 K×H×W logits) of several images at their own sizes."""
        samples = [self._prepare(image) for image in images]
        labels: List[Optional[np.ndarray]] = [None] * len(samples)
        logits: List[Optional[np.ndarray]] = [None] * len(samples)
        groups: Dict[Tuple[int, ...], List[int]] = {}
        for index, sample in enumerate(samples):  # keep-ratio inputs differ in size: batch equal shapes only
            groups.setdefault(tuple(sample["image"].shape), []).append(index)
        for indices in groups.values():
            batch = torch.stack([samples[i]["image"] for i in indices]).to(self.device)
            metas = [samples[i]["meta"] for i in indices]
            group_labels, group_logits = self.tta.predict(batch, metas, with_logits)
            for position, index in enumerate(indices):
                labels[index] = group_labels[position]
                if group_logits is not None:
                    logits[index] = group_logits[position]
        return labels, (logits if with_logits else None)

    def __call__(self, image: ImageInput) -> np.ndarray:
        """The (H, W) uint8 label map of one image (path or BGR uint8 array) at its original size."""
        return self.predict_batch([image])[0][0]

    def predict_logits(self, image: ImageInput) -> np.ndarray:
        """The (K, H, W) float32 logits of one image at its original size."""
        return self.predict_batch([image], with_logits=True)[1][0]
