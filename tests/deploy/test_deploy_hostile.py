"""quantize and export against hostile inputs (issue 19): unreadable photos, a file as --calib, a full disk,
and the temporary files and folders of killed runs."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys

import pytest
from eval_fixtures import RESIZE_RECIPE, cli_settings, make_lip_split, save_checkpoint, tiny_config

from humanparse.cli import main
from humanparse.temporaries import remove_stale_files, temporary_file, temporary_folder

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    config = tiny_config(RESIZE_RECIPE)
    return {
        "root": root,
        "checkpoint": save_checkpoint(config, root / "tiny.pth"),
        "data": make_lip_split(root / "data", val=3),
    }


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_quantize_skips_unreadable_photos_before_the_work_and_succeeds(setup, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for image in sorted((setup["data"] / "val_images").glob("*.jpg")):
        (photos / image.name).write_bytes(image.read_bytes())
    (photos / "zz_not_a_photo.jpg").write_text("a text file named .jpg")
    out = tmp_path / "int8.onnx"
    argv = ["quantize", RESIZE_RECIPE, str(setup["checkpoint"]), "--calib", str(photos), "--out", str(out)]
    assert main(argv + ["--num-images", "3", "--no-progress", *cli_settings()]) == 0
    printed = capsys.readouterr().out
    assert out.is_file() and "skipped 1 unreadable photo(s)" in printed and "held-out" in printed
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporaries left


def test_quantize_calib_must_be_a_folder(setup, tmp_path, capsys):
    argv = ["quantize", RESIZE_RECIPE, str(setup["checkpoint"]), "--calib", str(setup["checkpoint"])]
    assert main(argv + ["--out", str(tmp_path / "q.onnx")]) == 2
    assert "tiny.pth: a file, not a folder of photos" in capsys.readouterr().err


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("basic_ios::clear: iostream error")],
)
def test_export_on_a_full_disk_is_one_line(setup, tmp_path, monkeypatch, capsys, failure):
    import humanparse.deploy.export as export_module

    def full_disk(model, path, *args):
        with open(path, "wb") as stream:
            stream.write(b"partial")
        raise failure

    monkeypatch.setattr(export_module, "_export_to", full_disk)
    out = tmp_path / "m.onnx"
    argv = ["export", RESIZE_RECIPE, str(setup["checkpoint"]), "--onnx", str(out), "--input-size", "64", "64"]
    assert main(argv + cli_settings()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no space left on device" in err.lower() and str(out) in err
    assert list(tmp_path.iterdir()) == []


def test_stale_temporary_files_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "model.onnx"
    mine = temporary_file(target, ".onnx")
    dead = tmp_path / mine.name.replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    dead.write_bytes(b"left by kill -9")
    other = tmp_path / ".other.onnx.h-1-abcdefgh.tmp"  # another output's: never touched
    other.write_bytes(b"x")
    assert remove_stale_files(target) == 1
    assert not dead.exists() and mine.exists() and other.exists()


def test_a_temporary_folder_goes_on_error_sigterm_and_after_a_kill(tmp_path):
    stale = tmp_path / f"humanparse-quantize-{_host()}-{_dead_pid()}-abc"
    stale.mkdir()
    with pytest.raises(ValueError):
        with temporary_folder("humanparse-quantize", tmp_path) as folder:
            (folder / "fp32.onnx").write_bytes(b"x")
            assert not stale.exists()
            raise ValueError("boom")
    assert not folder.exists()
    with pytest.raises(SystemExit):
        with temporary_folder("humanparse-quantize", tmp_path) as folder:
            os.kill(os.getpid(), signal.SIGTERM)  # the handler raises SystemExit at the next bytecode
            for _ in range(1000):
                pass
    assert not folder.exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def _host() -> str:
    from humanparse import temporaries

    return temporaries._HOST
