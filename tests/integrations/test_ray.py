"""Ray Data: `predict --engine ray` resumes after its driver is killed, without parsing a photo twice; the
map_batches stages give Predictor's label maps; `--engine ray` from S3 to S3 (moto on 127.0.0.1) writes the local
pipeline's bytes; bad Ray options get one line each. Local Ray only (2 CPUs, no dashboard); marked `ray` (deselect with -m "not ray")."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config

from humanparse.cli import main as cli_main

ray = pytest.importorskip("ray", reason="the Ray tests need the [ray] extra")
pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ["model.width=0.125", "model.stage_blocks=[1,1,1,1]", "eval.input_size=[64,64]"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


def _photos(root: Path, count: int, seed: int = 2) -> Path:
    rng = np.random.default_rng(seed)
    for index in range(count):
        path = root / ("ab"[index % 2]) / f"p{index:02d}{'.png' if index % 3 == 0 else '.jpg'}"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 256, size=(28 + index, 36 + index % 5, 3), dtype=np.uint8))
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = _photos(tmp_path_factory.mktemp("photos"), 7)
    (root / "b" / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return root


def _command(checkpoint, *argv):
    return [sys.executable, "-m", "humanparse", "predict", RESIZE_RECIPE, str(checkpoint), *map(str, argv),
            "--no-progress", *cli_settings()]  # fmt: skip


def _environment():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _files(out: Path):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_killed_driver_resumes_without_parsing_twice(checkpoint, tmp_path):
    """Runs first, before this module starts its own Ray: the driver's subprocess starts a local one."""
    photos = _photos(tmp_path / "photos", 16, seed=4)
    reference = tmp_path / "reference"
    subprocess.run(_command(checkpoint, photos, "--out", reference, "--workers", "0"), env=_environment(),
                   check=True, capture_output=True)  # fmt: skip
    expected = _files(reference)
    out = tmp_path / "out"
    # many scales: slow enough per photo that the kill lands mid-job
    slow = [
        "--engine",
        "ray",
        "--threads",
        "1",
        "--scales",
        "0.5",
        "0.75",
        "1",
        "1.25",
        "1.5",
        "1.75",
        "--flip",
    ]
    driver = subprocess.Popen(_command(checkpoint, photos, "--out", out, *slow), env=_environment(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while len(list(out.rglob("*.png"))) < 3 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert driver.poll() is None, "the job ended before it could be killed"
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    finally:
        try:  # the local Ray the driver started (raylet, workers) is in the driver's process group
            os.killpg(driver.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    first = _settled(out)
    assert 3 <= len(first) < 16
    assert (out / ".ray-checkpoint").is_dir(), "the job checkpoint was not written"

    rerun = subprocess.run(_command(checkpoint, photos, "--out", out, *slow), env=_environment(),
                           capture_output=True, text=True, timeout=400)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"done {16 - len(first)}, skipped {len(first)}" in rerun.stdout
    assert _files(out) == {name: data for name, data in expected.items()}
    for name, before in first.items():  # nothing written in the first run was parsed and written again
        after = (out / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), name
    assert not (out / ".ray-checkpoint").exists()  # Ray removes it once the job succeeded


def _settled(out: Path, quiet_s: float = 3.0):
    """The label maps under `out` once none has appeared for `quiet_s` (a write task of the killed job may
    finish the file it was writing after the driver died)."""
    found, last_change = {}, time.monotonic()
    while time.monotonic() - last_change < quiet_s:
        now = {p.relative_to(out).as_posix(): p.stat() for p in out.rglob("*.png")}
        if set(now) != set(found):
            found, last_change = now, time.monotonic()
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def s3(photos):
    """moto's S3 server with the photos under s3://photos/in/; started before Ray, whose workers inherit its
    endpoint and fake credentials from the environment, as a cluster's workers take theirs from their own."""
    pytest.importorskip("s3fs")
    from s3_server import photo_buckets

    with photo_buckets(photos) as fs:
        yield fs


@pytest.fixture(scope="module")
def local_ray(s3):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_map_batches_equal_predictor(local_ray, checkpoint, photos, tmp_path):
    from humanparse.inference.masks import compute_mask, parse_mask_spec
    from humanparse.inference.predictor import Predictor
    from humanparse.integrations.ray import HumanParser, decode_photos

    config = tiny_config(RESIZE_RECIPE)
    files = sorted(p for p in photos.rglob("*") if p.is_file())
    ds = ray.data.read_binary_files([str(p) for p in files], include_paths=True)
    ds = ds.map_batches(decode_photos, batch_size=4)  # CPU tasks, then the actor pool
    ds = ds.map_batches(
        HumanParser,
        fn_constructor_kwargs={"config": config, "checkpoint": str(checkpoint), "masks": ["upper=upper_clothes,coat"],
                               "threads": 1},
        compute=ray.data.ActorPoolStrategy(size=1), num_cpus=1, batch_size=1,
    )  # fmt: skip
    ds.write_parquet(str(tmp_path / "parquet"))
    rows = {
        Path(row["path"]).name: row for row in ray.data.read_parquet(str(tmp_path / "parquet")).take_all()
    }
    assert set(rows) == {p.name for p in files}
    assert "truncated" in rows["bad.jpg"]["error"] and rows["bad.jpg"]["labels"].size == 0

    predictor = Predictor(config, checkpoint)
    upper = parse_mask_spec("upper=upper_clothes,coat", predictor.class_names).classes
    for path in files:
        if path.name == "bad.jpg":
            continue
        expected = predictor(str(path))
        row = rows[path.name]
        assert row["error"] == ""
        assert np.array_equal(row["labels"], expected), path.name
        assert np.array_equal(row["mask_upper"], compute_mask(expected, upper))
        assert list(row["classes"]) == [predictor.class_names[c] for c in np.unique(expected)]
        assert "photo" not in row and "bytes" not in row


def test_engine_ray_on_s3_writes_the_local_bytes(local_ray, s3, checkpoint, photos, tmp_path, capsys):
    local = tmp_path / "local"
    common = ["--no-progress", "--mask", "upper=upper_clothes,coat", *cli_settings()]
    model = ["predict", RESIZE_RECIPE, str(checkpoint)]
    assert cli_main([*model, str(photos), "--out", str(local), "--workers", "0", *common]) == 1  # bad.jpg
    threads = torch.get_num_threads()
    try:
        code = cli_main([*model, "s3://photos/in/", "--out", "s3://results/ray", "--engine", "ray", "--threads", "1",
                         *common])  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert code == 1
    assert "s3://photos/in/b/bad.jpg" in capsys.readouterr().err
    written = {path[len("results/ray/") :]: s3.cat_file(path) for path in s3.find("results/ray")}
    expected = _files(local)
    assert written.pop("failed.jsonl").replace(
        b"s3://photos/in/", str(photos).encode() + b"/"
    ) == expected.pop("failed.jsonl")
    assert written == expected  # label maps and masks, byte for byte
    assert not any(name.startswith(".ray-checkpoint") for name in written)


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--ray-address", "127.0.0.1:1"], "--ray-address 127.0.0.1:1: nothing answers"),
        (["--actors", "0"], "--actors must be at least 1"),
        (["--device", "cuda"], "--device cuda"),
    ],
)
def test_bad_ray_options_are_one_line(checkpoint, photos, tmp_path, capsys, extra, expected):
    argv = ["predict", RESIZE_RECIPE, str(checkpoint), str(photos), "--out", str(tmp_path / "out"), "--engine",
            "ray", "--no-progress", *extra, *cli_settings()]  # fmt: skip
    assert cli_main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and expected in error, error
    assert not (tmp_path / "out").exists()
