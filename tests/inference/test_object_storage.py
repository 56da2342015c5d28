"""`humanparse predict` on object storage: inputs, --list, outputs, --shard, resume and failed.jsonl on an
S3-compatible server (moto on 127.0.0.1), http(s) and file:// inputs, and the one-line refusals (a bucket that
does not exist, no credentials, an unreadable object, --out on http)."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest
import torch
from eval_fixtures import RESIZE_RECIPE, cli_settings, save_checkpoint, tiny_config, write_photos

from humanparse.cli import main as cli_main

pytest.importorskip("s3fs", reason="the object-storage tests need the [cloud] extra (s3fs) and moto[server]")
from s3_server import FAKE_SECRET, clear_clients, photo_buckets  # noqa: E402

PHOTOS = {"a/x.jpg": (40, 30), "b/x.jpg": (37, 51), "b/c/y.png": (33, 29), "z.jpg": (30, 44)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_checkpoint(tiny_config(RESIZE_RECIPE), tmp_path_factory.mktemp("weights") / "tiny.pth")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = write_photos(tmp_path_factory.mktemp("photos"), PHOTOS, seed=5)
    (root / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture(scope="module")
def s3(photos):
    """The server, with bucket `photos` holding the folder under `in/` and an empty bucket `results`."""
    with photo_buckets(photos) as fs:
        yield fs


@pytest.fixture(autouse=True)
def keep_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def local_run(checkpoint, photos, tmp_path_factory):
    """The outputs of a local `predict` of the same photos: what every storage must give byte for byte."""
    out = tmp_path_factory.mktemp("local") / "out"
    assert _predict(checkpoint, photos, "--out", out) == 0
    return _files(out)


def _predict(checkpoint, *argv) -> int:
    return cli_main(
        [
            "predict",
            RESIZE_RECIPE,
            str(checkpoint),
            *map(str, argv),
            "--no-progress",
            "--workers",
            "0",
            *cli_settings(),
        ]  # fmt: skip
    )


def _files(out: Path):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _objects(fs, prefix: str):
    return {path[len(prefix) + 1 :]: fs.cat_file(path) for path in sorted(fs.find(prefix))}


def test_s3_folder_in_shards_to_s3_equals_local(s3, checkpoint, local_run, capsys):
    # two --shard invocations into one prefix, reading in a decoding worker process: the local bytes
    for shard in ("0/2", "1/2"):
        assert _predict(checkpoint, "s3://photos/in/", "--out", "s3://results/sharded", "--shard", shard,
                        "--workers", "1") == 0  # fmt: skip
    assert _objects(s3, "results/sharded") == local_run
    assert "done 4" not in capsys.readouterr().out  # each shard did its part only

    # resume: a rerun does nothing; a removed output is redone, alone
    s3.rm_file("results/sharded/b/c/y.png")
    assert _predict(checkpoint, "s3://photos/in", "--out", "s3://results/sharded") == 0
    assert "done 1, skipped 3" in capsys.readouterr().out
    assert _objects(s3, "results/sharded") == local_run


def test_s3_unreadable_object_is_listed_and_the_rest_parsed(s3, checkpoint, local_run, capsys):
    s3.pipe_file("photos/broken/ok/x.jpg", s3.cat_file("photos/in/a/x.jpg"))
    s3.pipe_file("photos/broken/bad.jpg", b"\xff\xd8 not a jpeg")
    assert _predict(checkpoint, "s3://photos/broken", "--out", "s3://results/broken") == 1
    error = capsys.readouterr().err
    assert "s3://photos/broken/bad.jpg" in error
    failed = [json.loads(line) for line in s3.cat_file("results/broken/failed.jsonl").decode().splitlines()]
    assert [entry["path"] for entry in failed] == ["s3://photos/broken/bad.jpg"]
    assert s3.cat_file("results/broken/ok/x.png") == local_run["a/x.png"]
    assert not s3.exists("results/broken/bad.png")

    # once the photo is fixed, the rerun parses it alone and removes failed.jsonl
    s3.pipe_file("photos/broken/bad.jpg", s3.cat_file("photos/in/z.jpg"))
    assert _predict(checkpoint, "s3://photos/broken", "--out", "s3://results/broken") == 0
    assert "done 1, skipped 1" in capsys.readouterr().out
    assert s3.cat_file("results/broken/bad.png") == local_run["z.png"]
    assert not s3.exists("results/broken/failed.jsonl")


def test_list_files_on_s3_and_local_with_uris(s3, checkpoint, local_run, tmp_path):
    # a list on S3: relative lines are below its folder and keep their path; a full URI keeps its name
    s3.pipe_file("photos/in/list.txt", b"# photos\na/x.jpg\nb/c/y.png\ns3://photos/in/z.jpg\n")
    out = tmp_path / "from_s3_list"
    assert _predict(checkpoint, "--list", "s3://photos/in/list.txt", "--out", out) == 0
    assert _files(out) == {name: local_run[name] for name in ("a/x.png", "b/c/y.png", "z.png")}

    # a local list naming objects, written through file:// to a local folder
    listing = tmp_path / "list.txt"
    listing.write_text("s3://photos/in/b/x.jpg\n")
    out = tmp_path / "from_local_list"
    assert _predict(checkpoint, "--list", f"file://{listing}", "--out", f"file://{out}") == 0
    assert _files(out) == {"x.png": local_run["b/x.png"]}


def test_http_input_and_file_uri_folder(checkpoint, photos, local_run, tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(photos))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/b/c/y.png"
        assert _predict(checkpoint, url, f"file://{photos}/a", "--out", tmp_path / "out") == 0
    finally:
        server.shutdown()
    assert _files(tmp_path / "out") == {"y.png": local_run["b/c/y.png"], "x.png": local_run["a/x.png"]}


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["s3://no-such-bucket/in", "--out", "OUT"], "s3://no-such-bucket/in: bucket s3://no-such-bucket does not exist"),
        (["s3://photos/in", "--out", "s3://no-such-bucket/out"], "bucket s3://no-such-bucket does not exist"),
        (["s3://photos/nothing-here/", "--out", "OUT"], "s3://photos/nothing-here/: no such file or folder"),
        (["s3://photos/in", "--out", "https://example.com/out"], "cannot write to https://"),
        (["--list", "s3://photos/in/missing.txt", "--out", "OUT"], "--list file not found: s3://photos/in/missing.txt"),
    ],
)  # fmt: skip
def test_storage_refusals_are_one_line(s3, checkpoint, tmp_path, capsys, argv, expected):
    argv = [str(tmp_path / "out") if arg == "OUT" else arg for arg in argv]
    assert _predict(checkpoint, *argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and expected in error, error


def test_no_credentials_is_one_line_without_secrets(s3, checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    clear_clients()  # a cached client keeps the credentials it was made with
    try:
        assert _predict(checkpoint, "s3://photos/in", "--out", tmp_path / "out") == 2
    finally:
        clear_clients()
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "s3://photos/in: no credentials found" in error, error
    assert FAKE_SECRET not in error


def test_local_paths_need_no_fsspec(checkpoint, photos, tmp_path):
    # a plain local run never imports fsspec (the [cloud] extra stays optional)
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['fsspec'] = None\n"
        "from humanparse.cli import main\n"
        f"code = main(['predict', {RESIZE_RECIPE!r}, {str(checkpoint)!r}, {str(photos / 'a')!r}, '--out', "
        f"{str(tmp_path / 'out')!r}, '--no-progress', '--workers', '0', *{cli_settings()!r}])\n"
        "assert code == 0, code\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=root, env={"PYTHONPATH": str(root), "PATH": ""}
    )
    assert (tmp_path / "out" / "x.png").is_file()
