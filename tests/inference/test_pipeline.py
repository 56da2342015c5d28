"""The streaming predict: nested inputs, --list, refusals, resume after kill -9, torchrun and --shard giving
one process's bytes, masks, --label-map and logits layouts on known label maps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config, write_photos
from PIL import Image

from humanparse.cli import main as cli_main
from humanparse.data.labels import get_label_set
from humanparse.errors import ConfigError
from humanparse.inference.masks import compute_mask, parse_mask_spec
from humanparse.inference.pipeline import OutputSpec, my_blocks, run_pipeline
from humanparse.inference.prediction_io import PhotoItem, load_label_map

ROOT = Path(__file__).resolve().parents[2]
NESTED = {
    "a/x.jpg": (40, 30),
    "b/x.jpg": (37, 51),
    "b/c/y.png": (33, 29),
    "z.jpg": (30, 44),
    "b/w.jpg": (31, 31),
}
LIP = get_label_set("lip").classes


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    return write_photos(tmp_path_factory.mktemp("nested"), NESTED, seed=1)


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _predict(checkpoint, *argv) -> int:
    return cli_main(
        ["predict", RESIZE_RECIPE, str(checkpoint), *map(str, argv), "--no-progress", *cli_settings()]
    )


def _command(checkpoint, *argv):
    return ["-m", "humanparse", "predict", RESIZE_RECIPE, str(checkpoint), *map(str, argv), "--no-progress",
            *cli_settings()]  # fmt: skip


def _environment():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _files(out: Path):
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.suffix != ".jsonl"
    }


def test_nested_folders_mirror_their_paths_and_list_files(nested, checkpoint, tmp_path):
    out = tmp_path / "out"
    assert (
        _predict(checkpoint, nested, "--out", out, "--threads", "1", "--workers", "0", "--batch-size", "2")
        == 0
    )
    assert sorted(_files(out)) == ["a/x.png", "b/c/y.png", "b/w.png", "b/x.png", "z.png"]
    for name, size in NESTED.items():
        assert Image.open(out / Path(name).with_suffix(".png")).size == (size[1], size[0])
    listing = tmp_path / "list.txt"
    listing.write_text(f"{nested / 'a/x.jpg'}\n\n{nested / 'b/c/y.png'}\n")
    listed = tmp_path / "listed"
    # this process has used OpenCV's thread pool: a forked worker would hang on it, a forkserver one does not
    cv2.warpAffine(np.zeros((480, 640, 3), np.uint8), np.eye(2, 3), (473, 473))
    time.sleep(0.5)  # until the pool's threads wait on their condition variable (what a fork cannot copy)
    assert _predict(checkpoint, "--list", listing, "--out", listed, "--threads", "1", "--workers", "1") == 0
    assert sorted(_files(listed)) == ["x.png", "y.png"]
    assert _files(listed)["x.png"] == _files(out)["a/x.png"]


def test_an_out_that_would_overwrite_an_input_is_refused(nested, checkpoint, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "p.png").write_bytes((nested / "b/c/y.png").read_bytes())
    before = (folder / "p.png").read_bytes()
    assert _predict(checkpoint, folder, "--out", folder) == 2
    assert "overwrite the input" in capsys.readouterr().err
    assert _predict(checkpoint, folder / "p.png", "--out", folder / "p.png") == 2
    assert "existing file" in capsys.readouterr().err
    assert (folder / "p.png").read_bytes() == before and sorted(os.listdir(folder)) == ["p.png"]
    # two photos of one folder that would write the same label map
    (folder / "p.jpg").write_bytes((nested / "z.jpg").read_bytes())
    assert _predict(checkpoint, folder, "--out", tmp_path / "o") == 2
    assert "would both write p.png" in capsys.readouterr().err


def test_resume_after_kill_9_completes_with_a_clean_runs_outputs(checkpoint, tmp_path):
    photos = tmp_path / "many"
    photos.mkdir()
    rng = np.random.default_rng(2)
    for index in range(24):
        cv2.imwrite(str(photos / f"p{index:02d}.jpg"), rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))
    options = ["--threads", "1", "--workers", "0", "--batch-size", "2", "--save-logits"]
    options += ["--mask", "p=foreground"]
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    assert _predict(checkpoint, photos, "--out", clean, *options) == 0
    process = subprocess.Popen(
        [sys.executable, *_command(checkpoint, photos, "--out", killed, *options)],
        env=_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(killed.rglob("*_logits.npy")):
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = _files(killed)
    assert 0 < len(partial) < len(_files(clean)), "the kill came before any output or after the last"
    for name, data in partial.items():  # whatever exists is whole: equal to the clean run's file
        assert data == _files(clean)[name], name
    result = subprocess.run(
        [sys.executable, *_command(checkpoint, photos, "--out", killed, *options)],
        env=_environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    stems = {name[: -len(".png")] for name in _files(clean) if name.endswith(".png") and "_" not in name}
    whole = [
        stem for stem in stems if all(stem + end in partial for end in (".png", "_p.png", "_logits.npy"))
    ]
    assert f"skipped {len(whole)} " in result.stdout
    assert _files(killed) == _files(clean)
    for name in _files(killed):
        if name.endswith(".png"):
            Image.open(killed / name).load()


def test_torchrun_and_shards_write_one_processes_bytes(nested, checkpoint, tmp_path):
    options = ["--threads", "1", "--batch-size", "2", "--mask", "upper=upper_clothes,coat", "--save-logits"]
    single, ranks, shards = tmp_path / "single", tmp_path / "ranks", tmp_path / "shards"
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    assert _predict(checkpoint, nested, broken, "--out", single, "--workers", "0", *options) == 1
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    result = subprocess.run(
        [*torchrun, *_command(checkpoint, nested, broken, "--out", ranks, "--workers", "1", *options)[0:]],
        env=_environment(),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and result.stdout.count("done 5,") == 1, result.stdout + result.stderr
    assert "failed 1" in result.stdout
    for index in range(2):
        code = _predict(checkpoint, nested, broken, "--out", shards, "--shard", f"{index}/2", "--workers", "0",
                        *options)  # fmt: skip
        assert code == (1 if index == 0 else 0)  # broken.jpg sorts into block 0
    assert _files(single) and _files(ranks) == _files(single) and _files(shards) == _files(single)
    assert [json.loads(line)["path"] for line in (ranks / "failed.jsonl").read_text().splitlines()] == [
        str(broken)
    ]
    assert (shards / "failed.shard-0-of-2.jsonl").is_file()


def test_blocks_split_the_sorted_list_the_same_way_for_any_number_of_parts():
    one = my_blocks(7, 2, 0, 1)
    assert one == [[0, 1], [2, 3], [4, 5], [6]]
    assert sorted(my_blocks(7, 2, 0, 3) + my_blocks(7, 2, 1, 3) + my_blocks(7, 2, 2, 3)) == one


class FakePredictor:
    """Labels known in advance: rows of upper_clothes (5), coat (7), left_arm (14), background (0)."""

    device = "cpu"

    @staticmethod
    def transform(image):
        return {"image": torch.zeros(3, 4, 4), "meta": {"original_size": image.shape[:2]}}

    @staticmethod
    def labels(size):
        labels = np.zeros(size, dtype=np.uint8)
        labels[0], labels[1], labels[2] = 5, 7, 14
        return labels

    def predict_samples(self, samples, with_logits=False):
        labels = [self.labels(s["meta"]["original_size"]) for s in samples]
        logits = [np.stack([(label == k).astype(np.float32) for k in range(20)]) for label in labels]
        return labels, (logits if with_logits else None)


def test_masks_label_map_and_logits_layouts_on_known_labels(nested, tmp_path):
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "\n".join(f"{name}: {0 if name == 'background' else 100 + i}" for i, name in enumerate(LIP))
    )
    spec = OutputSpec(
        class_names=LIP,
        masks=tuple(
            map(
                partial(parse_mask_spec, class_names=LIP),
                ("upper=upper_clothes,coat", "person=foreground", "arms=arms"),
            )
        ),
        label_lookup=load_label_map(mapping, LIP),
        logits=True,
        logits_layout="hwk",
        logits_dtype="float32",
        overlay=True,
        legend=True,
    )
    items = [PhotoItem(nested / "a/x.jpg", "q/x")]
    summary = run_pipeline(FakePredictor(), items, tmp_path / "out", spec)
    assert summary.done == 1 and not summary.failed
    base = tmp_path / "out/q/x"
    expected = FakePredictor.labels(NESTED["a/x.jpg"])
    saved = np.asarray(Image.open(f"{base}.png"))
    assert saved[0, 0] == 105 and saved[1, 0] == 107 and saved[2, 0] == 114 and saved[3, 0] == 0
    upper = np.asarray(Image.open(f"{base}_upper.png"))
    assert set(np.unique(upper)) == {0, 255} and (upper[:2] == 255).all() and (upper[2:] == 0).all()
    assert (np.asarray(Image.open(f"{base}_person.png"))[:3] == 255).all()
    assert np.array_equal(np.asarray(Image.open(f"{base}_arms.png")), np.where(expected == 14, 255, 0))
    logits = np.load(f"{base}_logits.npy")
    assert logits.dtype == np.float32 and logits.shape == (*NESTED["a/x.jpg"], 20)
    assert np.array_equal(logits.argmax(-1), expected)
    legend = cv2.imread(f"{base}_overlay.jpg")
    assert legend.shape[0] == NESTED["a/x.jpg"][0] and legend.shape[1] > NESTED["a/x.jpg"][1]
    again = run_pipeline(FakePredictor(), items, tmp_path / "out", spec)
    assert again.done == 0 and again.skipped == 1


def test_mask_specs_and_label_maps_reject_what_they_cannot_map(tmp_path):
    assert parse_mask_spec("face_hair=face,hair", LIP).classes == (2, 13)
    assert parse_mask_spec("limbs=arms,legs", LIP).classes == (14, 15, 16, 17)
    assert np.array_equal(compute_mask(np.array([[0, 2, 13]], np.uint8), [2, 13]), [[0, 255, 255]])
    for bad in ("upper", "upper=", "up per=hair", "x=sleeve", "x=arm"):
        with pytest.raises(ConfigError):
            parse_mask_spec(bad, LIP)
    partial = tmp_path / "partial.yaml"
    partial.write_text("background: 0\nhair: 2\n")
    with pytest.raises(ConfigError, match="not mapped: hat") as error:
        load_label_map(partial, LIP)
    assert "\n" not in str(error.value)
