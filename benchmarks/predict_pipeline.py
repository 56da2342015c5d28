"""`humanparse predict`'s pipeline on a folder of 640x480 JPEGs (random weights: speed does not depend on them).

* efficiency: end-to-end images/s (decode in workers, network, background writes) divided by the network-only
  images/s at the same batch size and precision (target >= 0.9). "Network-only" is `Predictor.predict_samples`
  on samples decoded beforehand (forward + mapping back to the photo size + argmax); forward-only is shown too.
* stages (`--stages`): the per-photo cost of each stage of `predict`, one photo at a time in one process
  (decode, warp in, network, warp back, argmax, encode, write), medians over the photos.
* scaling: the CLI under torchrun with 1 and 2 processes (`--scaling`).
* SCHP: `--schp-repo PATH` (a clone of GoGoDuck912/Self-Correction-Human-Parsing) runs simple_extractor.py's loop
  (batch 1, serial, its dataset and transform_logits) on the CPU, InPlace-ABN and torchvision's ToTensor/Normalize
  replaced by stand-ins with the same arithmetic, against `humanparse predict` with schp_resnet101_lip, fp32.

  python benchmarks/predict_pipeline.py --images 16 --batch-size 2 --scaling
  python benchmarks/predict_pipeline.py --config ce2p_tiny_synthetic --images 64 --batch-size 8
  python benchmarks/predict_pipeline.py --schp-repo /tmp/schp --images 8
  python benchmarks/predict_pipeline.py --config schp_resnet101_lip --stages --skip-efficiency --images 6
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np
import torch


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="ce2p_resnet50os16_lip")
    parser.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--images", type=int, default=16, help="photos in the folder (default 16)")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--workers", type=int, help="decoding processes (default: predict's default)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timed rounds (default 2)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--scaling", action="store_true", help="also time 1 and 2 processes under torchrun")
    parser.add_argument(
        "--schp-repo", help="a clone of Self-Correction-Human-Parsing: compare with its extractor"
    )
    parser.add_argument("--skip-efficiency", action="store_true")
    parser.add_argument("--stages", action="store_true", help="the per-photo cost of each stage")
    parser.add_argument(
        "--kernels", choices=["auto", "winograd", "onednn"], help="CPU kernels (default auto)"
    )
    return parser.parse_args(argv)


def make_photos(folder: Path, count: int) -> List[Path]:
    """`count` 640x480 JPEGs of smooth random colour (JPEG sizes like photos', not like noise)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
        photo = cv2.resize(small, (640, 480), interpolation=cv2.INTER_CUBIC)
        paths.append(folder / f"photo{index:05d}.jpg")
        cv2.imwrite(str(paths[-1]), photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return paths


def save_weights(config, path: Path) -> Path:
    from humanparse.models.builder import build_model
    from humanparse.models.checkpoint_io import checkpoint_dict

    torch.manual_seed(0)
    torch.save(checkpoint_dict(build_model(config).eval(), config), path)
    return path


def efficiency(args, config, weights: Path, photos: List[Path], work: Path) -> None:
    from humanparse.data.io import read_image
    from humanparse.inference.pipeline import OutputSpec, available_cores, default_workers, run_pipeline
    from humanparse.inference.prediction_io import plan_inputs
    from humanparse.inference.predictor import Predictor

    predictor = Predictor(config, weights, device=args.device, precision=args.precision, kernels=args.kernels)
    samples = [predictor.transform(read_image(path)) for path in photos]
    batches = [samples[i : i + args.batch_size] for i in range(0, len(samples), args.batch_size)]
    predictor.predict_samples(batches[0])  # warm-up
    workers = args.workers if args.workers is not None else default_workers(available_cores())
    items = plan_inputs([photos[0].parent])
    # starts the decoding processes' server once (torch and OpenCV imported); steady state is what is measured
    run_pipeline(predictor, items[: args.batch_size], work / "warm", OutputSpec(), batch_size=args.batch_size,
                 workers=workers)  # fmt: skip
    forwards, networks, pipelines = [], [], []
    for _ in range(args.repeats):  # alternating, so that a change in the machine's load hits all three
        start = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                predictor.tta.forward(torch.stack([s["image"] for s in batch]).to(predictor.device))
        forwards.append(len(samples) / (time.perf_counter() - start))
        start = time.perf_counter()
        for batch in batches:
            predictor.predict_samples(batch)
        networks.append(len(samples) / (time.perf_counter() - start))
        summary = run_pipeline(
            predictor, items, work / "out", OutputSpec(), batch_size=args.batch_size, workers=workers,
            overwrite=True,
        )  # fmt: skip
        pipelines.append(summary.done / summary.seconds)
    forward, network, end_to_end = (float(np.median(v)) for v in (forwards, networks, pipelines))
    print(
        f"{args.config} {args.precision} batch {args.batch_size}, {len(photos)} photos 640x480, "
        f"{torch.get_num_threads()} threads, {workers} workers; medians of {args.repeats} alternating rounds"
    )
    print(f"  forward only               {forward:7.2f} images/s")
    print(f"  network (predict_samples)  {network:7.2f} images/s")
    print(f"  end to end (pipeline)      {end_to_end:7.2f} images/s")
    target = "PASS" if end_to_end / network >= 0.9 else "MISS"
    print(f"  efficiency end-to-end / network = {end_to_end / network:.2f} (target >= 0.9: {target})")


def stages(args, config, weights: Path, photos: List[Path], work: Path) -> None:
    """Per-photo seconds of each stage of `predict`, one photo at a time (medians over the photos)."""
    from humanparse.data.geometry import argmax_labels, inverse_warp_argmax, inverse_warp_logits
    from humanparse.data.io import label_png, read_image
    from humanparse.inference.prediction_io import png_bytes, write_atomic
    from humanparse.inference.predictor import Predictor

    predictor = Predictor(config, weights, device=args.device, precision=args.precision, kernels=args.kernels)
    tta = predictor.tta
    print(f"{args.config} {args.precision}: {predictor.network.kernels.describe()}")
    times: dict = {}

    def timed(stage: str, function, *arguments, **keywords):
        start = time.perf_counter()
        result = function(*arguments, **keywords)
        times.setdefault(stage, []).append(time.perf_counter() - start)
        return result

    out = work / "stages"
    out.mkdir(exist_ok=True)
    for round_index in range(2):  # the first round warms up (primitives, caches) and is dropped
        if round_index == 1:
            times.clear()
        for path in photos:
            image = timed("decode", read_image, path)
            sample = timed("warp in (transform)", predictor.transform, image)
            batch = sample["image"][None].to(predictor.device)
            logits = timed("network (with TTA merges)", tta._network_logits, batch, [sample["meta"]])
            meta = sample["meta"]
            if tta.warp_logits:
                item = logits[0].cpu().numpy()
                arguments = (meta["center"], meta["scale"], meta["original_size"], tta.truncate_center)
                warped = timed(
                    "warp back, every class (before)",
                    inverse_warp_logits,
                    item,
                    *arguments,
                    convention=tta.affine_convention,
                )
                timed("argmax, np.argmax (before)", np.argmax, warped, axis=0)
                timed("argmax, blocked", argmax_labels, warped)
                labels = timed(
                    "warp back + argmax, classes that can win (now)",
                    inverse_warp_argmax,
                    item,
                    *arguments,
                    convention=tta.affine_convention,
                )
            else:
                labels = timed("argmax + warp back (labels)", tta._to_labels, logits, [meta])[0]
            picture = label_png(labels, "lip")
            data = timed("encode PNG", png_bytes, picture)
            timed("write", write_atomic, out / f"{path.stem}.png", data)
    print(f"per photo, medians of {len(photos)} photos 640x480 ({torch.get_num_threads()} threads):")
    for stage, values in times.items():
        print(f"  {stage:48s} {1000 * float(np.median(values)):8.1f} ms")


def _cli_rate(command: List[str]) -> float:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return float(re.search(r"([0-9.]+) images/s", result.stdout).group(1))


def scaling(args, weights: Path, photos: List[Path], work: Path) -> None:
    """The CLI under torchrun: 1 process (all cores), 2 processes (half each), and 1 process on one core's
    share (what each of the 2 gets), which tells contention apart from scaling."""
    rates = {}
    for processes, extra in ((1, []), (2, []), (1, ["--threads", "1", "--workers", "0"])):
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                   str(processes), "-m", "humanparse", "predict", args.config, str(weights), str(photos[0].parent),
                   "--out", str(work / f"scaling{processes}"), "--batch-size", str(args.batch_size),
                   "--precision", args.precision, "--no-progress", "--overwrite", *extra]  # fmt: skip
        if args.workers is not None and not extra:
            command += ["--workers", str(args.workers)]
        if args.overrides:
            command += ["--set", *args.overrides]
        rates[(processes, bool(extra))] = _cli_rate(command)
    one, two, single = rates[(1, False)], rates[(2, False)], rates[(1, True)]
    print(f"  torchrun 1 process {one:.2f} images/s, 2 processes {two:.2f} images/s ({two / one:.2f}x); "
          f"1 process with 1 thread, no workers: {single:.2f} images/s")  # fmt: skip


# ---------------------------------------------------------------------------------------------------- SCHP
def schp(args, photos: List[Path], work: Path) -> None:
    """simple_extractor.py's loop on the CPU against `humanparse predict` with the same weights."""
    from benchlib.schp_reference import install_stand_ins
    from PIL import Image

    from humanparse.inference.pipeline import OutputSpec, available_cores, default_workers, run_pipeline
    from humanparse.inference.prediction_io import plan_inputs
    from humanparse.inference.predictor import Predictor

    install_stand_ins()
    sys.path.insert(0, str(Path(args.schp_repo).resolve()))
    import networks
    from datasets.simple_extractor_dataset import SimpleFolderDataset
    from torchvision import transforms
    from utils.transforms import transform_logits

    torch.manual_seed(0)
    model = networks.init_model("resnet101", num_classes=20, pretrained=None).eval()
    weights = work / "schp_like.pth"
    state = {f"module.{k}": v for k, v in model.state_dict().items() if "num_batches_tracked" not in k}
    torch.save({"state_dict": state}, weights)  # InPlace-ABN keeps no batch counter
    input_size = [473, 473]
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize(mean=[0.406, 0.456, 0.485], std=[0.225, 0.224, 0.229])]
    )
    dataset = SimpleFolderDataset(root=str(photos[0].parent), input_size=input_size, transform=transform)
    loader = torch.utils.data.DataLoader(dataset)
    out = work / "schp_out"
    out.mkdir(exist_ok=True)
    start = time.perf_counter()
    with torch.no_grad():
        for image, meta in loader:  # simple_extractor.py's loop, without .cuda()
            c, s = meta["center"].numpy()[0], meta["scale"].numpy()[0]
            w, h = meta["width"].numpy()[0], meta["height"].numpy()[0]
            output = model(image)
            upsample = torch.nn.Upsample(size=input_size, mode="bilinear", align_corners=True)
            upsampled = upsample(output[0][-1][0].unsqueeze(0)).squeeze().permute(1, 2, 0)
            logits = transform_logits(upsampled.data.cpu().numpy(), c, s, w, h, input_size=input_size)
            picture = Image.fromarray(np.asarray(np.argmax(logits, axis=2), dtype=np.uint8))
            picture.putpalette([v for i in range(20) for v in (i, i, i)])
            picture.save(out / (meta["name"][0][:-4] + ".png"))
    theirs = len(dataset) / (time.perf_counter() - start)
    predictor = Predictor(
        "schp_resnet101_lip",
        weights,
        scales=[1.0],
        flip=False,
        precision=args.precision,
        kernels=args.kernels,
    )
    workers = args.workers if args.workers is not None else default_workers(available_cores())
    run_pipeline(predictor, plan_inputs([photos[0]]), work / "warm", OutputSpec(), workers=workers)
    summary = run_pipeline(
        predictor, plan_inputs([photos[0].parent]), work / "ours_out", OutputSpec(),
        batch_size=args.batch_size, workers=workers, overwrite=True,
    )  # fmt: skip
    ours = summary.done / summary.seconds
    agree = np.mean(
        [
            np.mean(np.asarray(Image.open(out / f"{p.stem}.png")) == np.asarray(Image.open(work / f"ours_out/{p.stem}.png")))
            for p in photos
        ]
    )  # fmt: skip
    target = "PASS" if ours / theirs >= 1.5 else "MISS"
    print(f"SCHP simple_extractor loop (CPU, fp32, batch 1): {theirs:.2f} images/s")
    print(f"humanparse predict schp_resnet101_lip ({args.precision}, batch {args.batch_size}, {workers} workers): "
          f"{ours:.2f} images/s -> {ours / theirs:.2f}x (target >= 1.5: {target}); label agreement {agree:.4f}")  # fmt: skip


def main(argv: Optional[List[str]] = None) -> int:
    from humanparse.configs import get_config

    args = parse_args(argv)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        photos = make_photos(work / "photos", args.images)
        if not args.skip_efficiency or args.scaling or args.stages:
            config = get_config(args.config).override(args.overrides)
            weights = save_weights(config, work / "weights.pth")
        if not args.skip_efficiency:
            efficiency(args, config, weights, photos, work)
        if args.stages:
            stages(args, config, weights, photos, work)
        if args.scaling:
            scaling(args, weights, photos, work)
        if args.schp_repo:
            schp(args, photos, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
