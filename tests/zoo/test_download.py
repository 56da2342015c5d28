"""`humanparse download` against a local HTTP server on 127.0.0.1 (nothing leaves the machine): good, corrupted,
truncated-then-resumed and dropped files, a 404 falling through, file:// and http mirrors, Drive's pages."""

import hashlib
import http.server
import json
import random
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from humanparse.cli import main as cli_main
from humanparse.errors import CheckpointError, ConfigError
from humanparse.zoo import cache, fetch, table
from humanparse.zoo.download import download_entry
from humanparse.zoo.resolve import resolve
from humanparse.zoo.table import Licence, Source, ZooEntry, ZooFile

PAYLOAD = random.Random(0).randbytes(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()
SIZE = len(PAYLOAD)
LICENCE = Licence("test licence (non-commercial)", "test NC", "no")


class _Server:
    """Routes: path -> behaviour; every request is logged as (path, Range header)."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parsed = urlparse(self.path)
                server.requests.append((parsed.path, self.headers.get("Range")))
                route = server.routes.get(parsed.path)
                if route is None:
                    self.send_error(404)
                    return
                route(self, parse_qs(parsed.query))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = _Server()
    yield running
    running.close()


def serve(data: bytes, drop_after=None, drops=1, honour_range=True):
    """A route serving `data` with Range support; the first `drops` answers stop after `drop_after` bytes."""
    state = {"drops": drops}

    def route(handler, query):
        start = 0
        header = handler.headers.get("Range")
        if header and honour_range:
            start = int(re.match(r"bytes=(\d+)-", header).group(1))
            if start >= len(data):
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{len(data)}")
                handler.end_headers()
                return
            handler.send_response(206)
            handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            handler.send_response(200)
        body = data[start:]
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if drop_after is not None and state["drops"] > 0:
            state["drops"] -= 1
            handler.wfile.write(body[:drop_after])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.wfile.write(body)

    return route


def page(text: str):
    def route(handler, query):
        body = text.encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def entry_with(*sources, name="test_weights", file_name="weights.pth", sha256=SHA, size=SIZE):
    file = ZooFile(file_name, size, sha256, tuple(sources))
    return ZooEntry(name, "test", 2, "lip", (file,), LICENCE, "nothing")


def http_source(server, path, label="authors"):
    return Source(f"{server.url}{path}", label)


def _cache_is_clean(folder: Path):
    """Nothing left but the bookkeeping folder (no final file, no partial file, no note of its source)."""
    left = [path for path in folder.rglob("*") if ".verified" not in path.parts]
    assert left == [], left


def test_a_good_file_is_verified_recorded_and_renamed_into_place(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD)
    entry = entry_with(http_source(server, "/w.pth"))
    path = download_entry(entry, tmp_path, progress=False, log=lambda line: None)
    assert path == tmp_path / "weights.pth" and path.read_bytes() == PAYLOAD
    assert cache.status(tmp_path, entry.files[0]) == cache.VERIFIED
    assert json.loads((tmp_path / ".verified" / "weights.pth.json").read_text())["sha256"] == SHA
    assert not list(tmp_path.glob("*.part"))
    download_entry(entry, tmp_path, progress=False, log=lambda line: None)  # already there: no request
    assert len(server.requests) == 1


def test_download_weights_from_python(server, monkeypatch):
    import humanparse

    server.routes["/w.pth"] = serve(PAYLOAD)
    entry = entry_with(http_source(server, "/w.pth"))
    monkeypatch.setitem(table.ZOO, entry.name, entry)
    assert humanparse.download_weights(entry.name, progress=False) == cache.models_dir() / "weights.pth"
    assert resolve(entry.name).read_bytes() == PAYLOAD
    with pytest.raises(ConfigError, match="not a model-zoo name: nothing_here"):
        humanparse.download_weights("nothing_here")


def test_a_corrupted_file_is_deleted_and_the_source_named(server, tmp_path):
    corrupted = bytearray(PAYLOAD)
    corrupted[1000] ^= 0xFF
    server.routes["/bad.pth"] = serve(bytes(corrupted))
    entry = entry_with(http_source(server, "/bad.pth", "mirror: corrupted"))
    with pytest.raises(CheckpointError) as error:
        download_entry(entry, tmp_path, progress=False, log=lambda line: None)
    message = str(error.value)
    assert (
        "mirror: corrupted" in message and hashlib.sha256(corrupted).hexdigest() in message and SHA in message
    )
    _cache_is_clean(tmp_path)


def test_a_truncated_download_resumes_with_a_range_request(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD)
    (tmp_path / "weights.pth.part").write_bytes(PAYLOAD[:120_000])  # what an interrupted run leaves
    entry = entry_with(http_source(server, "/w.pth"))
    download_entry(entry, tmp_path, progress=False, log=lambda line: None)
    assert server.requests == [("/w.pth", "bytes=120000-")]
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD
    assert not (tmp_path / "weights.pth.part").exists()


def test_a_server_ignoring_range_restarts_the_file(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD, honour_range=False)
    (tmp_path / "weights.pth.part").write_bytes(b"x" * 5000)  # garbage that must not stay in front
    download_entry(entry_with(http_source(server, "/w.pth")), tmp_path, progress=False, log=lambda line: None)
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_404_falls_through_to_the_next_source(server, tmp_path):
    server.routes["/good.pth"] = serve(PAYLOAD)
    lines = []
    entry = entry_with(
        http_source(server, "/gone.pth", "authors: gone"), http_source(server, "/good.pth", "mirror")
    )
    download_entry(entry, tmp_path, progress=False, log=lines.append)
    assert [path for path, _ in server.requests] == ["/gone.pth", "/good.pth"]
    assert any("authors: gone: HTTP 404 not found" in line for line in lines)
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_dropped_connection_is_resumed_where_it_stopped(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD, drop_after=100_000)
    download_entry(entry_with(http_source(server, "/w.pth")), tmp_path, progress=False, log=lambda line: None)
    assert server.requests == [("/w.pth", None), ("/w.pth", "bytes=100000-")]
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_connection_dropping_again_and_again_still_completes(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD, drop_after=50_000, drops=4)
    download_entry(entry_with(http_source(server, "/w.pth")), tmp_path, progress=False, log=lambda line: None)
    assert [r for _, r in server.requests] == [None] + [
        f"bytes={n}-" for n in (50_000, 100_000, 150_000, 200_000)
    ]
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_connection_that_keeps_dropping_moves_on_and_keeps_nothing_under_the_final_name(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD, drop_after=0, drops=100)
    entry = entry_with(http_source(server, "/w.pth", "flaky"))
    with pytest.raises(CheckpointError, match="flaky.*connection dropped"):
        download_entry(entry, tmp_path, progress=False, log=lambda line: None)
    assert not (tmp_path / "weights.pth").exists()


def test_a_wrong_size_is_refused_before_the_download(server, tmp_path):
    server.routes["/other.pth"] = serve(PAYLOAD[:1000])
    with pytest.raises(CheckpointError, match="offers 1000 bytes, the published file has 300000"):
        download_entry(
            entry_with(http_source(server, "/other.pth")), tmp_path, progress=False, log=lambda line: None
        )
    _cache_is_clean(tmp_path)


def test_a_file_mirror_is_tried_first(server, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "weights.pth").write_bytes(PAYLOAD)
    monkeypatch.setenv("HUMANPARSE_MODEL_MIRROR", mirror.as_uri())
    server.routes["/w.pth"] = serve(PAYLOAD)
    download_entry(
        entry_with(http_source(server, "/w.pth")), tmp_path / "cache", progress=False, log=lambda x: None
    )
    assert server.requests == []
    assert (tmp_path / "cache" / "weights.pth").read_bytes() == PAYLOAD


def test_an_http_mirror_with_a_bad_copy_falls_back_to_the_public_source(server, tmp_path, monkeypatch):
    server.routes["/mirror/weights.pth"] = serve(PAYLOAD[::-1])
    server.routes["/w.pth"] = serve(PAYLOAD)
    monkeypatch.setenv("HUMANPARSE_MODEL_MIRROR", f"{server.url}/mirror/")
    lines = []
    download_entry(entry_with(http_source(server, "/w.pth")), tmp_path, progress=False, log=lines.append)
    assert [path for path, _ in server.requests] == ["/mirror/weights.pth", "/w.pth"]
    assert any("HUMANPARSE_MODEL_MIRROR: gave a file with SHA-256" in line for line in lines)
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_mirror_variable_that_is_not_a_url_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HUMANPARSE_MODEL_MIRROR", "/srv/models")
    with pytest.raises(ConfigError, match="give an http"):
        download_entry(entry_with(Source("https://example.invalid/w", "x")), tmp_path, progress=False)


def _drive_routes(server, file_id="FAKEDRIVEID123", uuid="u-42"):
    form = (
        "<html><body><p>Google Drive can't scan this file for viruses.</p>"
        f'<form id="download-form" action="{server.url}/download" method="get">'
        f'<input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export" value="download">'
        f'<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{uuid}">'
        '<input type="submit" value="Download anyway"></form></body></html>'
    )
    file_route = serve(PAYLOAD)

    def route(handler, query):
        if query.get("id") != [file_id]:
            handler.send_error(404)
        elif query.get("uuid") == [uuid]:
            file_route(handler, query)
        else:
            page(form)(handler, query)

    server.routes["/download"] = route


def test_the_drive_confirmation_page_is_answered(server, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "DRIVE_DOWNLOAD_URL", f"{server.url}/download")
    _drive_routes(server)
    drive = Source("https://drive.google.com/file/d/FAKEDRIVEID123/view", "authors: Drive", kind="drive")
    download_entry(entry_with(drive), tmp_path, progress=False, log=lambda line: None)
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD
    assert len(server.requests) == 2  # the page, then the form's URL


def test_a_drive_quota_page_is_one_line_and_the_next_source_is_tried(server, tmp_path, monkeypatch):
    monkeypatch.setattr(fetch, "DRIVE_DOWNLOAD_URL", f"{server.url}/quota")
    server.routes["/quota"] = page(
        "<html><body>Sorry, you can't view or download this file at this time. Too many users have viewed or "
        "downloaded this file recently.</body></html>"
    )
    server.routes["/w.pth"] = serve(PAYLOAD)
    drive = Source("https://drive.google.com/file/d/FAKEDRIVEID123/view", "authors: Drive", kind="drive")
    lines = []
    download_entry(
        entry_with(drive, http_source(server, "/w.pth", "mirror")), tmp_path, progress=False, log=lines.append
    )
    quota = [line for line in lines if "quota" in line]
    assert len(quota) == 1 and "\n" not in quota[0] and "too many users" in quota[0]
    assert (tmp_path / "weights.pth").read_bytes() == PAYLOAD


def test_a_changed_file_is_never_trusted(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path))
    server.routes["/w.pth"] = serve(PAYLOAD)
    # no published hash or size: the first download's are recorded, then kept to
    entry = entry_with(http_source(server, "/w.pth"), sha256=None, size=None)
    monkeypatch.setitem(table.ZOO, entry.name, entry)
    download_entry(entry, progress=False, log=lambda line: None)
    assert cache.status(cache.models_dir(), entry.files[0]) == cache.RECORDED
    assert resolve(entry.name) == cache.models_dir() / "weights.pth"
    with open(cache.models_dir() / "weights.pth", "ab") as stream:
        stream.write(b"more")
    with pytest.raises(
        CheckpointError, match="300004 bytes, verified at 300000.*not trusted.*humanparse download"
    ):
        resolve(entry.name)
    assert cache.status(cache.models_dir(), entry.files[0]) == cache.CHANGED


def test_manual_sources_print_the_exact_steps(tmp_path):
    baidu = Source(
        "https://pan.baidu.com/s/1abc", "authors: Baidu", kind="baidu", code="x1y2", manual_hint="LIP.pth"
    )
    with pytest.raises(CheckpointError) as error:
        download_entry(entry_with(baidu), tmp_path, progress=False, log=lambda line: None)
    message = str(error.value)
    assert (
        "open https://pan.baidu.com/s/1abc, enter the extraction code x1y2, then download LIP.pth" in message
    )
    assert f"save it as {tmp_path / 'weights.pth'}" in message


def test_download_to_a_folder_fills_a_mirror_the_variable_can_serve(
    server, tmp_path, monkeypatch, capsys, caplog
):
    server.routes["/a.json"] = serve(b'{"a": 1}')
    server.routes["/b.bin"] = serve(PAYLOAD)
    bundle = ZooEntry(
        "test_bundle",
        "test",
        2,
        "lip",
        (
            ZooFile("test_bundle/config.json", None, None, (http_source(server, "/a.json"),)),
            ZooFile("test_bundle/model.bin", len(PAYLOAD), SHA, (http_source(server, "/b.bin"),)),
        ),
        LICENCE,
        "nothing",
        bundle="test_bundle",
    )
    monkeypatch.setitem(table.ZOO, bundle.name, bundle)
    mirror = tmp_path / "mirror"
    assert cli_main(["download", "test_bundle", "--to", str(mirror), "--quiet"]) == 0
    assert (mirror / "test_bundle" / "model.bin").read_bytes() == PAYLOAD
    assert "licence test licence" in capsys.readouterr().err
    server.requests.clear()
    monkeypatch.setenv("HUMANPARSE_MODEL_MIRROR", mirror.as_uri())
    assert cli_main(["download", "test_bundle", "--quiet"]) == 0
    assert server.requests == []
    assert resolve("test_bundle") == cache.models_dir() / "test_bundle"
    assert caplog.text.count("commercial use: no") == 1  # the licence, printed at first use
    resolve("test_bundle")
    assert caplog.text.count("commercial use: no") == 1  # once only


def test_models_lists_sizes_licences_sources_and_cache_state(server, tmp_path, monkeypatch, capsys):
    server.routes["/w.pth"] = serve(PAYLOAD)
    entry = entry_with(http_source(server, "/w.pth"))
    monkeypatch.setitem(table.ZOO, entry.name, entry)
    assert cli_main(["download", entry.name, "--quiet"]) == 0
    capsys.readouterr()
    assert cli_main(["models", "--json"]) == 0
    listed = {item["name"]: item for item in json.loads(capsys.readouterr().out)}
    assert listed[entry.name]["cache"] == "verified" and listed[entry.name]["commercial_use"] == "no"
    assert listed["schp_resnet101_lip"]["cache"] == "missing"
    assert listed["segformer_b2_clothes"]["files"][0]["sha256"] is None
    assert listed["ce2p_resnet50os8_lip"]["files"][0]["sources"][0]["url"].endswith("_train.pth")
    assert cli_main(["models"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"test_weights .* 300\.0 kB\s+known\s+test NC\s+no .* verified", text)
    assert cli_main(["download", "no_such_weights"]) == 2
    assert "not a model-zoo name: no_such_weights" in capsys.readouterr().err
    assert cli_main(["models", "segformer_b2_clothes"]) == 0
    details = capsys.readouterr().out
    assert "segformer_b2_clothes/config.json: size unknown, SHA-256 no published hash" in details
    assert "recipe: " in details and "commercial use: unknown" in details
    assert cli_main(["download", "csenet_resnet101_lip", "--quiet"]) == 1
    assert "enter the extraction code bb9c" in capsys.readouterr().err


def test_a_folder_that_cannot_be_written_is_one_line(server, tmp_path):
    server.routes["/w.pth"] = serve(PAYLOAD)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot write"):
        download_entry(
            entry_with(http_source(server, "/w.pth")), blocker / "cache", progress=False, log=print
        )
