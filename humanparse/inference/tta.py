"""Test-time augmentation (scales + horizontal flip) and the mapping of predictions back to the original image.

The protocols, chosen by `config.eval.protocol`:

* `"resize"` (SSSegmentation): the image was squash- (or keep-ratio-) resized; each scale resizes it again
  (bilinear, align_corners=False), the logits of every pass are resized straight to the original (H, W)
  (bilinear, align_corners=False), averaged, and the argmax taken.
* `"affine"` (official CE2P/SCHP/CDGNet/CSENet): the image was letterboxed by the affine warp; each scale
  resizes the (image, flipped image) batch to floor(size * s) with align_corners=True, the flipped logits are
  un-flipped with the left/right channel swap and averaged with the plain ones at the head's resolution, then
  upsampled to the input size (align_corners=True) and the scales averaged; the labels are mapped back with the
  inverse affine warp (nearest), the logits (for saving) with its bilinear version. `warp_logits=True` instead
  takes the labels as the argmax of the warped-back logits, as SCHP's simple_extractor.py does
  (`eval.predict_script="simple_extractor"`, used by `Predictor` only; `test` keeps the evaluator's order).
* `"fashn_parser"` (FashnHumanParser.predict) and `"segformer_processor"` (transformers' SegformerImageProcessor
  chain): the photo was resized to a fixed input as the reference resizes it (see
  `humanparse.data.transforms.test_time`); from the logits on they are the `"resize"` protocol: logits bilinear
  (align_corners=False) to the photo's size, argmax.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from humanparse.data.geometry import (
    argmax_labels,
    check_affine_convention,
    inverse_warp_argmax,
    inverse_warp_labels,
    inverse_warp_logits,
)
from humanparse.data.labels import dataset_classes, flip_permutation
from humanparse.errors import ConfigError
from humanparse.inference.runtimes.base import Forward
from humanparse.values import (
    PREDICT_SCRIPTS,
    PROTOCOLS,
    RESIZE_PROTOCOLS,
    check_choice,
    check_scales,
    working_size_problem,
)

__all__ = ["PREDICT_SCRIPTS", "PROTOCOLS", "Forward", "TestTimeAugmentation"]
_logger = logging.getLogger(__name__)
MIN_INPUT_SIDE = (
    32  # px: a smaller scaled input leaves the stride-8/16 network a feature map of one or two cells
)


def unflip_logits(logits: torch.Tensor, flip_permutation: Sequence[int]) -> torch.Tensor:
    """Logits of a horizontally flipped image brought back to the plain image: swap left/right classes, flip W."""
    index = torch.as_tensor(list(flip_permutation), device=logits.device)
    return logits.index_select(1, index).flip(-1)


def _with_flipped(images: torch.Tensor, flip: bool) -> torch.Tensor:
    return torch.cat([images, images.flip(-1)], dim=0) if flip else images


def _merge_flipped(
    logits: torch.Tensor, count: int, flip_permutation: Optional[Sequence[int]]
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    if flip_permutation is None:
        return logits, None
    return logits[:count], unflip_logits(logits[count:], flip_permutation)


def resize_protocol_passes(
    forward: Forward,
    images: torch.Tensor,
    scales: Sequence[float] = (1.0,),
    flip_permutation: Optional[Sequence[int]] = None,
) -> Iterator[torch.Tensor]:
    """SSSegmentation's TTA passes: the (N, K, h, w) logits of each scale (and flip, un-flipped) at the head's
    resolution, NCHW contiguous (the layout the references resize)."""
    count = images.shape[0]
    for scale in scales:
        scaled = images
        if scale != 1.0:  # SSSegmentation resizes with scale_factor; scale 1 is an exact identity
            scaled = F.interpolate(images, scale_factor=scale, mode="bilinear", align_corners=False)
        logits = forward(_with_flipped(scaled, flip_permutation is not None))
        # flip before resizing: both are per-pixel-exact mirror operations, so the order does not matter
        plain, flipped = _merge_flipped(logits, count, flip_permutation)
        for part in (plain, flipped):
            if part is not None:
                yield part.float().contiguous()


def resize_protocol_logits(
    forward: Forward,
    images: torch.Tensor,
    original_size: Tuple[int, int],
    scales: Sequence[float] = (1.0,),
    flip_permutation: Optional[Sequence[int]] = None,
) -> torch.Tensor:
    """SSSegmentation's TTA: the (N, K, H, W) logits averaged over scales (and flip) at `original_size`."""
    total: Optional[torch.Tensor] = None
    passes = 0
    for part in resize_protocol_passes(forward, images, scales, flip_permutation):
        resized = F.interpolate(part, size=tuple(original_size), mode="bilinear", align_corners=False)
        total = resized if total is None else total + resized
        passes += 1
    assert total is not None  # at least one scale (check_scales)
    return total / passes


def resize_argmax(logits: torch.Tensor, size: Tuple[int, int]) -> np.ndarray:
    """The (H, W) uint8 argmax of (K, h, w) logits resized bilinearly (align_corners=False) to `size`, equal to
    resizing all K planes first, resizing only the classes that can win.

    As `humanparse.data.geometry.inverse_warp_argmax` does for the affine warp: a class that is nowhere the
    maximum at the head's resolution is resized only inside one extra plane, the maximum of all such classes,
    which bounds each of them after the resize (non-negative weights, monotone rounding; each plane is resized on
    its own, so the kept planes get the values the full resize gives them). Where the resized winner beats that
    bound at every pixel no left-out class can win or tie; elsewhere all K planes are resized.
    """
    planes = logits.float().contiguous()
    top = planes.amax(0)
    present = (planes == top).flatten(1).any(1)
    if int((~present).sum()) > 1 and bool(torch.isfinite(top).all()):
        kept = torch.cat([planes[present], planes[~present].amax(0, keepdim=True)])
        resized = F.interpolate(kept[None], size=tuple(size), mode="bilinear", align_corners=False)[0]
        if bool((resized[:-1].amax(0) > resized[-1]).all()):
            classes = present.nonzero().flatten().to(torch.uint8).cpu().numpy()
            return classes[channel_argmax(resized[:-1])]
    resized = F.interpolate(planes[None], size=tuple(size), mode="bilinear", align_corners=False)[0]
    return channel_argmax(resized)


def channel_argmax(planes: torch.Tensor) -> np.ndarray:
    """The (H, W) uint8 argmax over the classes of (K, H, W) logits, first maximum on ties. On the CPU through
    `argmax_labels` (numpy by row blocks): torch's argmax over the first dimension is strided and took 55 ms on
    20 x 640x480 planes against 17 ms."""
    if planes.device.type != "cpu":
        return planes.argmax(0).to(torch.uint8).cpu().numpy()
    return argmax_labels(planes.float().numpy())


def affine_protocol_logits(
    forward: Forward,
    images: torch.Tensor,
    scales: Sequence[float] = (1.0,),
    flip_permutation: Optional[Sequence[int]] = None,
) -> torch.Tensor:
    """The official multi-scale + flip evaluation: (N, K, h, w) logits at the affine input size (h, w)."""
    count, _, height, width = images.shape
    batch = _with_flipped(images, flip_permutation is not None)
    total: Optional[torch.Tensor] = None
    for scale in scales:
        scaled = batch
        if scale != 1.0:
            # nn.Upsample(scale_factor=s, align_corners=True) in evaluate_multi_LIP.py: size floor(size * s)
            size = (int(math.floor(height * scale)), int(math.floor(width * scale)))
            scaled = F.interpolate(batch, size=size, mode="bilinear", align_corners=True)
        plain, flipped = _merge_flipped(forward(scaled).float(), count, flip_permutation)
        merged = plain if flipped is None else (plain + flipped) * 0.5
        upsampled = F.interpolate(merged, size=(height, width), mode="bilinear", align_corners=True)
        total = upsampled if total is None else total + upsampled
    assert total is not None  # at least one scale (check_scales)
    return total / len(scales)


class TestTimeAugmentation:
    """A config's test protocol: `logits` and `labels` of a batch at each image's original size.

    `images` are the validation transform's outputs stacked (N, 3, h, w), `metas` their `meta` dicts
    (`original_size`, and `center`/`scale` for the affine protocol).
    """

    __test__ = False  # not a pytest class despite the name

    def __init__(
        self,
        forward: Forward,
        protocol: str = "resize",
        scales: Sequence[float] = (1.0,),
        flip_permutation: Optional[Sequence[int]] = None,
        truncate_center: bool = False,
        affine_convention: str = "size",
        warp_logits: bool = False,
        source: str = "the network",
    ) -> None:
        self.protocol = check_choice("eval.protocol", protocol, PROTOCOLS)
        self.scales = list(check_scales(scales))
        self.forward = self._watch_finite(forward)
        self.source = source  # named in the non-finite warning: the checkpoint, where known
        self.nonfinite = False  # whether the network has given NaN or inf logits
        self.flip_permutation = list(flip_permutation) if flip_permutation is not None else None
        self.truncate_center = truncate_center
        self.affine_convention = check_affine_convention(affine_convention)
        self.warp_logits = warp_logits and protocol == "affine"

    @classmethod
    def from_config(
        cls,
        forward: Forward,
        config,
        *,
        scales: Optional[Sequence[float]] = None,
        flip: Optional[bool] = None,
        for_prediction: bool = False,
        source: str = "the network",
    ) -> TestTimeAugmentation:
        """The protocol of `config.eval` around `forward`, with `scales` / `flip` overriding the config's when
        given; the one place a TestTimeAugmentation is built from a recipe. `source` names the network in the
        warning about non-finite logits.

        `for_prediction` applies `eval.predict_script` (SCHP's simple_extractor.py: float centre, labels from
        the warped-back logits); without it the evaluator's protocol is used.
        """
        evaluation = config.eval
        check_choice("eval.predict_script", evaluation.predict_script, PREDICT_SCRIPTS)
        classes = dataset_classes(config.data)
        extractor = for_prediction and evaluation.predict_script == "simple_extractor"
        use_flip = evaluation.flip if flip is None else flip
        tta = cls(
            forward,
            protocol=evaluation.protocol,
            scales=list(evaluation.scales if scales is None else scales),
            flip_permutation=(
                flip_permutation(classes.num_classes, classes.flip_pairs) if use_flip else None
            ),
            truncate_center=evaluation.truncate_center and not extractor,
            affine_convention=evaluation.affine_convention,
            warp_logits=extractor,
            source=source,
        )
        # the one check of the working size (a size times the largest scale) for --scales on the command line
        size = evaluation.keep_ratio_size if evaluation.keep_ratio else evaluation.input_size
        problem = working_size_problem(size, tta.scales)
        if problem:
            raise ConfigError(f"--scales {' '.join(f'{s:g}' for s in tta.scales)}: {problem}")
        return tta

    @property
    def flip(self) -> bool:
        return self.flip_permutation is not None

    def _watch_finite(self, forward: Forward) -> Forward:
        """`forward`, checked for NaN/inf logits (a broken checkpoint gives them, and argmax hides it)."""

        def watched(images: torch.Tensor) -> torch.Tensor:
            logits = forward(images)
            if not self.nonfinite and not bool(torch.isfinite(logits).all()):
                self.nonfinite = True
                _logger.warning(
                    "%s gives non-finite (NaN/inf) logits: its predictions are meaningless "
                    "(a broken or diverged checkpoint?)",
                    self.source,
                )
            return logits

        return watched

    def _check_scaled_size(self, images: torch.Tensor) -> None:
        height, width = images.shape[-2:]
        smallest = min(self.scales)
        scaled = (int(math.floor(height * smallest)), int(math.floor(width * smallest)))
        if min(scaled) < MIN_INPUT_SIDE:
            raise ConfigError(
                f"--scales (eval.scales) {smallest:g} makes the {height}x{width} network input "
                f"{scaled[0]}x{scaled[1]} px; each side needs at least {MIN_INPUT_SIDE} px "
                f"(use scales >= {math.ceil(100 * MIN_INPUT_SIDE / min(height, width)) / 100:g})"
            )

    def _network_logits(
        self, images: torch.Tensor, metas: Sequence[Dict[str, Any]]
    ) -> Union[torch.Tensor, List[torch.Tensor]]:
        """(N, K, h, w) logits, or one (K, H, W) tensor per image when their original sizes differ."""
        self._check_scaled_size(images)
        with torch.inference_mode():
            if self.protocol == "affine":
                return affine_protocol_logits(self.forward, images, self.scales, self.flip_permutation)
            sizes = {tuple(meta["original_size"]) for meta in metas}
            if len(sizes) == 1:
                return resize_protocol_logits(
                    self.forward, images, sizes.pop(), self.scales, self.flip_permutation
                )
            return [  # images of different original sizes: resize each one's logits on its own
                resize_protocol_logits(
                    self.forward,
                    image[None],
                    tuple(meta["original_size"]),
                    self.scales,
                    self.flip_permutation,
                )[0]
                for image, meta in zip(images, metas)
            ]

    def predict(
        self, images: torch.Tensor, metas: Sequence[Dict[str, Any]], with_logits: bool = False
    ) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
        """Labels and (when asked) logits of a batch at the original sizes, from one pass of the network."""
        if self.protocol in RESIZE_PROTOCOLS and not with_logits and len(self.scales) == 1 and not self.flip:
            return self._resized_argmax(images, metas), None
        logits = self._network_logits(images, metas)
        if self.warp_logits and not with_logits:  # labels only: warp back only the classes that can win
            arrays = (item.cpu().numpy() for item in logits)
            return self._warped_back(inverse_warp_argmax, arrays, metas), None
        if self.warp_logits:
            warped = self._to_logits(logits, metas)
            return [argmax_labels(item) for item in warped], warped
        labels = self._to_labels(logits, metas)
        return labels, (self._to_logits(logits, metas) if with_logits else None)

    def _resized_argmax(self, images: torch.Tensor, metas: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        """One pass (one scale, no flip) of a resize protocol, labels only: each photo's argmax from the classes
        that can win (`resize_argmax`), the labels of resizing all of them."""
        self._check_scaled_size(images)
        with torch.inference_mode():
            (logits,) = resize_protocol_passes(self.forward, images, self.scales)
            return [resize_argmax(item, tuple(meta["original_size"])) for item, meta in zip(logits, metas)]

    def logits(self, images: torch.Tensor, metas: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        """Per image, float32 (K, H, W) logits at its original size."""
        return self._to_logits(self._network_logits(images, metas), metas)

    def labels(self, images: torch.Tensor, metas: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        """Per image, the uint8 (H, W) label map at its original size."""
        return self.predict(images, metas)[0]

    def _to_logits(self, logits, metas: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        if self.protocol in RESIZE_PROTOCOLS:
            return [item.cpu().numpy().astype(np.float32) for item in logits]
        return self._warped_back(inverse_warp_logits, (item.cpu().numpy() for item in logits), metas)

    def _to_labels(self, logits, metas: Sequence[Dict[str, Any]]) -> List[np.ndarray]:
        if self.protocol in RESIZE_PROTOCOLS:
            return [channel_argmax(item) for item in logits]
        # official evaluators: argmax at the input size, then the label map warped back with INTER_NEAREST
        labels = (channel_argmax(item) for item in logits)
        return self._warped_back(inverse_warp_labels, labels, metas)

    def _warped_back(
        self, inverse_warp: Callable[..., Any], arrays: Iterable[np.ndarray], metas: Sequence[Dict[str, Any]]
    ) -> List[np.ndarray]:
        """Each array warped by `inverse_warp` (an `inverse_warp_*` of data.geometry) from the affine crop back
        onto its photo; a numpy array in, a numpy array out."""
        return [
            inverse_warp(
                array,
                meta["center"],
                meta["scale"],
                meta["original_size"],
                self.truncate_center,
                convention=self.affine_convention,
            )
            for array, meta in zip(arrays, metas)
        ]
