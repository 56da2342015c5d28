"""An S3-compatible server on 127.0.0.1 for the object-storage tests: moto in server mode (it answers the S3
protocol over HTTP), on a free port, with fake credentials in the environment.

Imported by name (`from s3_server import s3_environment`): tests/conftest.py puts this folder on sys.path.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator

FAKE_KEY = "humanparse-test-key"
FAKE_SECRET = "humanparse-test-secret-never-printed"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def s3_environment() -> Iterator[Dict[str, str]]:
    """A running moto S3 server; yields the environment variables that point boto/s3fs at it (also set in
    os.environ while the block runs, and removed after)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in the test output
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto keeps its buckets in the process, across servers: each block starts from an empty store
    reset = urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=30).close()
    variables = {
        "AWS_ACCESS_KEY_ID": FAKE_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",  # no 1 s wait for an instance role that is not there
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
    }
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield variables
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
        clear_clients()


@contextmanager
def photo_buckets(photos: Path) -> Iterator[Any]:
    """A running server (`s3_environment`) with bucket `photos` holding the folder `photos` under `in/` and an
    empty bucket `results`; yields an s3fs.S3FileSystem on it."""
    import s3fs

    with s3_environment():
        fs = s3fs.S3FileSystem()
        fs.mkdir("photos")
        fs.mkdir("results")
        for path in photos.rglob("*"):
            if path.is_file():
                fs.pipe_file(f"photos/in/{path.relative_to(photos).as_posix()}", path.read_bytes())
        yield fs


def clear_clients() -> None:
    """Forget fsspec's cached S3 clients (they keep the credentials they were made with)."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
