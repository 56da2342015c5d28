"""The outputs of predict, test, serve and quantize on tiny demo-like networks, as SHA-256 digests.

`tests/inference/test_output_identity.py` compares them with the digests the code before the inference-layer
refactor (commit 2b87a68) produced on the same inputs, recorded in tests/fixtures/identity/outputs.json by
running this module there (`python tests/inference/identity_run.py OUT.json`, with that checkout first on
PYTHONPATH and `tests/engine` importable). It uses only what both versions share: the command line, and
`create_app` with a Predictor.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

# recipes: the resize protocol (SSSegmentation) and the affine one with 3 scales + flip (CSENet)
TINY = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]", "eval.input_size=[64,64]"]
RESIZE = "ce2p_tiny_synthetic"
AFFINE = "csenet_resnet101_lip"
MASKS = ["--mask", "person=foreground", "--mask", "upper=upper_clothes,coat"]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pixels(path: Path) -> str:
    """A digest of a PNG's pixels (for the masks, whose encoder became the label maps' one: same pixels)."""
    from PIL import Image

    array = np.asarray(Image.open(path))
    return _digest(f"{array.shape}{array.dtype}".encode() + array.tobytes())


def _cli(argv: List[str]) -> str:
    from humanparse.cli import main

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"humanparse {' '.join(argv)} exited {code}: {stdout.getvalue()}")
    return stdout.getvalue()


def _checkpoint(name: str, path: Path) -> Path:
    import torch

    from humanparse.configs import get_config
    from humanparse.models.builder import build_model
    from humanparse.models.checkpoint_io import checkpoint_dict

    config = get_config(name).override(TINY)
    torch.manual_seed(0)
    torch.save(checkpoint_dict(build_model(config).eval(), config), path)
    return path


def _files(folder: Path, prefix: str) -> Dict[str, str]:
    digests = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        mask = path.suffix == ".png" and path.stem.endswith(("_person", "_upper"))
        digests[f"{prefix}/{relative}"] = _pixels(path) if mask else _digest(path.read_bytes())
    return digests


def outputs(work: Path, make_predictor: Callable) -> Dict[str, str]:
    """Run every command on a synthetic LIP split under `work`; `make_predictor(config, weights)` builds the
    Predictor the server runs (its import path differs between the two versions)."""
    import torch

    from humanparse.data.synth import generate_dataset

    torch.set_num_threads(1)  # the same reduction order whatever the machine's cores
    data = generate_dataset(layout="lip", out=work / "data", train=1, val=3, size=(45, 38), seed=3)
    photos = Path(data) / "val_images"
    digests: Dict[str, str] = {}
    for name in (RESIZE, AFFINE):
        weights = _checkpoint(name, work / f"{name}.pth")
        out = work / f"predict_{name}"
        _cli(["predict", name, str(weights), str(photos), "--out", str(out), *MASKS, "--overlay", "--legend",
              "--save-logits", "--workers", "0", "--threads", "1", "--no-progress", "--set", *TINY])  # fmt: skip
        digests.update(_files(out, f"predict/{name}"))
        report = work / f"test_{name}.json"
        _cli(["test", name, str(weights), "--data-root", str(data), "--out", str(report), "--no-progress",
              "--set", *TINY])  # fmt: skip
        results = json.loads(report.read_text())
        results.pop("checkpoint")  # a temporary path
        digests[f"test/{name}/report"] = _digest(json.dumps(results, sort_keys=True).encode())
    digests.update(_serve(work, make_predictor, photos))
    int8 = work / "int8.onnx"
    printed = _cli(["quantize", RESIZE, str(work / f"{RESIZE}.pth"), "--calib", str(photos), "--num-images", "2",
                    "--out", str(int8), "--no-progress", "--set", *TINY])  # fmt: skip
    digests["quantize/int8.onnx"] = _digest(int8.read_bytes())
    digests["quantize/report"] = _digest(printed.replace(str(int8), "OUT").encode())
    return digests


def _serve(work: Path, make_predictor: Callable, photos: Path) -> Dict[str, str]:
    from fastapi.testclient import TestClient

    from humanparse.configs import get_config
    from humanparse.serve.app import ServeSettings, create_app

    predictor = make_predictor(get_config(RESIZE).override(TINY), work / f"{RESIZE}.pth")
    photo = sorted(photos.glob("*.jpg"))[0].read_bytes()
    queries = ["", "?mask=hair=hair,hat", "?format=json&mask=person=foreground&mask=arms=arms",
               "?scales=0.75,1.25&flip=true"]  # fmt: skip
    digests = {}
    with TestClient(create_app(predictor, ServeSettings(max_wait_ms=1))) as client:
        for query in queries:
            answer = client.post(f"/v1/parse{query}", content=photo, headers={"content-type": "image/jpeg"})
            assert answer.status_code == 200, answer.text
            digests[f"serve/parse{query}"] = _digest(answer.content)
        digests["serve/model"] = _digest(client.get("/v1/model").content)
    return digests


if __name__ == "__main__":  # run against another checkout to record its digests
    import tempfile

    try:
        from humanparse.inference.backends import create_predictor
    except ImportError:  # before the refactor
        from humanparse.engine.backends import create_predictor

    with tempfile.TemporaryDirectory() as folder:
        result = outputs(Path(folder), lambda config, weights: create_predictor(config, weights))
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
