"""`humanparse predict` against hostile inputs (issue 19): symlink loops, outputs under the inputs, list files,
pixel limits, working sizes, killed writes, bad options and label maps, mismatched classes, NaN weights."""

from __future__ import annotations

import json
import os
import threading
import zlib

import cv2
import numpy as np
import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config, tiny_model

from humanparse.cli import main as cli_main
from humanparse.errors import CheckpointError, ConfigError, DataError
from humanparse.inference.prediction_io import load_label_map, plan_inputs
from humanparse.inference.walk import glob_files, match_parts


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


def _photo(path, size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, size=size + (3,), dtype=np.uint8))
    return path


def _predict(*argv: str) -> int:
    return cli_main(["predict", RESIZE_RECIPE, *argv, "--no-progress", "--workers", "0", *cli_settings()])


def _in_thread(function, timeout=20.0):
    """Run `function` in a thread; fail (instead of hanging the suite) when it has not returned in time."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", function()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "did not finish: a loop?"
    return result["value"]


# ------------------------------------------------------------------------------------------ symlink loops
def test_folder_and_recursive_glob_with_symlink_loops_finish_and_list_each_photo_once(tmp_path):
    root = tmp_path / "photos"
    _photo(root / "a.jpg")
    _photo(root / "sub" / "b.jpg")
    os.symlink(".", root / "self")
    os.symlink("..", root / "sub" / "up")
    for pattern in (str(root), str(root / "**" / "*.jpg")):
        items = _in_thread(lambda pattern=pattern: plan_inputs([pattern]))
        assert sorted(item.relative for item in items) == ["a", "sub/b"]


def test_a_looping_file_link_fails_on_its_own_into_failed_jsonl(checkpoint, tmp_path, capsys):
    root = tmp_path / "photos"
    _photo(root / "good.jpg")
    os.symlink("b.jpg", root / "a.jpg")
    os.symlink("a.jpg", root / "b.jpg")
    out = tmp_path / "out"
    assert _in_thread(lambda: _predict(str(checkpoint), str(root / "**" / "*.jpg"), "--out", str(out))) == 1
    failed = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert {os.path.basename(entry["path"]) for entry in failed} == {"a.jpg", "b.jpg"}
    assert all("symbolic link that loops" in entry["error"] for entry in failed)
    assert (out / "good.png").is_file()
    assert "Traceback" not in capsys.readouterr().err


def test_glob_matching_follows_glob_rules():
    assert match_parts(("**", "*.jpg"), ("a", "b", "x.jpg")) and match_parts(("**", "*.jpg"), ("x.jpg",))
    assert not match_parts(("*.jpg",), ("a", "x.jpg")) and not match_parts(("*.jpg",), (".hidden.jpg",))
    assert match_parts(("a?", "[xy].png"), ("ab", "y.png"))


def test_a_glob_without_double_star_stays_at_its_depth(tmp_path):
    _photo(tmp_path / "x.jpg")
    _photo(tmp_path / "deep" / "y.jpg")
    assert [relative.as_posix() for _, relative in glob_files(str(tmp_path / "*.jpg"))] == ["x.jpg"]


# ------------------------------------------------------------------------------------------ own outputs
def test_out_equal_to_the_input_folder_reruns_and_resumes(checkpoint, tmp_path, capsys):
    root = tmp_path / "photos"
    _photo(root / "a.jpg")
    _photo(root / "b.jpg", (32, 48))
    args = [str(checkpoint), str(root), "--out", str(root), "--overlay", "--mask", "person=foreground"]
    assert _predict(*args) == 0
    assert (root / "a.png").is_file() and (root / "a_overlay.jpg").is_file()
    capsys.readouterr()
    assert _predict(*args) == 0
    assert "done 0, skipped 2" in capsys.readouterr().out
    glob_args = [str(checkpoint), str(root / "*.jpg"), "--out", str(root), "--overlay"]
    assert _predict(*glob_args) == 0
    assert "done 0, skipped 2" in capsys.readouterr().out


def test_a_photo_beside_its_future_output_is_still_protected(checkpoint, tmp_path, capsys):
    root = tmp_path / "photos"
    _photo(root / "a.jpg")
    _photo(root / "a_overlay.jpg")  # the user's own photo, not an output of ours
    before = (root / "a_overlay.jpg").read_bytes()
    assert _predict(str(checkpoint), str(root), "--out", str(root), "--overlay") == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (root / "a_overlay.jpg").read_bytes() == before


# ------------------------------------------------------------------------------------------ list files
@pytest.mark.parametrize(
    "content, message",
    [
        (b"ok.jpg\n" + b"x" * 100_000 + b"\n", "line 2: 100000 characters"),
        (b"# photos\n\xff\xfe\xfa.jpg\n", "line 2: not UTF-8"),
        (b"a\x00b.jpg\n", "line 1: holds a NUL byte"),
        ("n" * 300 + ".jpg\n", "line 1: a name of 304 bytes"),
    ],
)
def test_list_file_problems_name_the_line(tmp_path, content, message):
    listing = tmp_path / "list.txt"
    listing.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError, match=message):
        plan_inputs([], listing)


# ------------------------------------------------------------------------------------------ limits
def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (one compressed row: tiny on disk)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    idat = zlib.compress(b"\0" * (1 + 3 * width))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_photo_over_max_pixels_is_listed_and_the_run_goes_on(checkpoint, tmp_path):
    root = tmp_path / "photos"
    _photo(root / "small.jpg")
    (root / "huge.png").write_bytes(_png_header_only(10000, 10000))
    out = tmp_path / "out"
    assert _predict(str(checkpoint), str(root), "--out", str(out), "--max-pixels", "1e6") == 1
    failed = [json.loads(line) for line in (out / "failed.jsonl").read_text().splitlines()]
    assert len(failed) == 1 and "10000x10000 pixels is over the limit of 1000000" in failed[0]["error"]
    assert (out / "small.png").is_file()


def test_huge_working_sizes_are_refused_before_loading(checkpoint, tmp_path, capsys):
    _photo(tmp_path / "a.jpg")
    assert (
        _predict(str(checkpoint), str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o"), "--scales", "1000")
        == 2
    )
    assert "at most 8192 px" in capsys.readouterr().err
    assert cli_main(["predict", RESIZE_RECIPE, str(checkpoint), str(tmp_path), "--out", str(tmp_path / "o"),
                     "--set", "eval.input_size=[100000,100000]"]) == 2  # fmt: skip
    assert "eval.input_size=[100000, 100000]: must be at most 8192" in capsys.readouterr().err


def test_a_resumed_run_removes_the_temporaries_a_kill_left(checkpoint, tmp_path):
    root = tmp_path / "photos"
    _photo(root / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    leftover = out / ".a_logits.npy.k3j9x_2q.tmp"  # atomic_write's name, left by kill -9
    leftover.write_bytes(b"\0" * 1000)
    foreign = out / ".notes.txt.k3j9x_2q.tmp"  # not an output of this run: kept
    foreign.write_bytes(b"x")
    assert _predict(str(checkpoint), str(root), "--out", str(out), "--save-logits") == 0
    assert not leftover.exists() and foreign.exists()


# ------------------------------------------------------------------------------------------ options
def test_threads_must_be_positive(checkpoint, tmp_path, capsys):
    _photo(tmp_path / "a.jpg")
    for threads in ("0", "-2"):
        assert (
            _predict(
                str(checkpoint), str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o"), "--threads", threads
            )
            == 2
        )
        assert "--threads must be at least 1" in capsys.readouterr().err


def test_inputs_after_options_are_taken(checkpoint, tmp_path, capsys):
    _photo(tmp_path / "a.jpg")
    _photo(tmp_path / "b.jpg")
    out = tmp_path / "o"
    argv = [
        "predict",
        RESIZE_RECIPE,
        str(checkpoint),
        "--out",
        str(out),
        str(tmp_path / "a.jpg"),
        "--no-progress",
    ]
    assert cli_main(argv + ["--workers", "0", str(tmp_path / "b.jpg"), *cli_settings()]) == 0
    assert (out / "a.png").is_file() and (out / "b.png").is_file()
    argv = ["predict", RESIZE_RECIPE, "--out", str(tmp_path / "o2"), str(checkpoint), str(tmp_path / "a.jpg")]
    assert cli_main(argv + ["--no-progress", "--workers", "0", *cli_settings()]) == 0
    with pytest.raises(SystemExit):
        cli_main(["test", RESIZE_RECIPE, str(checkpoint), "--data-root", "d", "extra"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("background: 0\nhat: true\n", r"hat: True is not an id"),
        ("background: 0\nhat: 1\nhat: 2\n", "the key 'hat' is given twice"),
        ("background: 0\n0: 3\n", "background is mapped twice"),
    ],
)
def test_label_map_values_and_keys_are_checked(tmp_path, text, message):
    path = tmp_path / "map.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_label_map(path, ("background", "hat"))


def test_a_binary_label_map_is_one_line(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01")
    with pytest.raises(ConfigError, match="not UTF-8 text") as error:
        load_label_map(path, ("background", "hat"))
    assert "\n" not in str(error.value)


def test_a_dataset_with_another_class_count_is_refused(checkpoint, tmp_path, capsys):
    _photo(tmp_path / "a.jpg")
    argv = ["predict", RESIZE_RECIPE, str(checkpoint), str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o")]
    assert cli_main(argv + [*cli_settings(), "data.dataset=atr"]) == 2
    assert "data.dataset=atr has 18 classes but the model" in capsys.readouterr().err


def test_weights_holding_nan_are_refused(tmp_path, capsys):
    config = tiny_config(RESIZE_RECIPE)
    model = tiny_model(config)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    from humanparse.models.checkpoint_io import checkpoint_dict

    torch.save(checkpoint_dict(model, config), tmp_path / "nan.pth")
    _photo(tmp_path / "a.jpg")
    assert _predict(str(tmp_path / "nan.pth"), str(tmp_path / "a.jpg"), "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite values" in err and not (tmp_path / "o" / "a.png").exists()
    from humanparse.models.weights import load_for_inference

    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_for_inference(config, tmp_path / "nan.pth")
