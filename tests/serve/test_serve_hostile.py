"""`humanparse serve` against hostile clients and options (issue 19): API keys, ports, mask counts, slow bodies,
hang-ups, and large photos decoded no larger than the network needs."""

from __future__ import annotations

import asyncio
import io
import logging

import numpy as np
import pytest
from PIL import Image
from serve_fixtures import RECIPE, encode, require, synthetic_person

require("fastapi", "httpx", "multipart", "prometheus_client")
from fastapi.testclient import TestClient  # noqa: E402

from humanparse.cli import main as cli_main  # noqa: E402
from humanparse.configs import get_config  # noqa: E402
from humanparse.inference.predictor import Predictor  # noqa: E402
from humanparse.serve.app import ServeSettings, create_app  # noqa: E402
from humanparse.serve.service import MAX_MASKS  # noqa: E402

CONFIG = get_config(RECIPE).override(["eval.input_size=[64,64]"])


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(CONFIG, tiny_checkpoint)


@pytest.fixture()
def no_model(monkeypatch):
    """Fail the test if the command gets as far as building the model."""
    import humanparse.inference.backends as backends

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(backends, "create_predictor", refuse)


@pytest.mark.parametrize(
    "argv, env, message",
    [
        (["--api-key", ""], {}, "--api-key is empty"),
        ([], {"HUMANPARSE_API_KEY": ""}, "HUMANPARSE_API_KEY is empty"),
        (["--api-key", "clé"], {}, "printable ASCII"),
        (["--api-key", "two words"], {}, "printable ASCII"),
        (["--port", "99999"], {}, "--port 99999: a TCP port is a number from 1 to 65535"),
        (["--port", "-1"], {}, "--port -1"),
        (["--threads", "0"], {}, "--threads must be at least 1"),
    ],
)
def test_bad_keys_and_ports_are_refused_before_loading(
    tiny_checkpoint, no_model, monkeypatch, capsys, argv, env, message
):
    monkeypatch.delenv("HUMANPARSE_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli_main(["serve", RECIPE, str(tiny_checkpoint), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_non_ascii_token_is_a_401_not_a_500(predictor):
    person = synthetic_person(0, size=(48, 40))
    with TestClient(create_app(predictor, ServeSettings(api_key="s3cret", warmup=False))) as client:
        headers = {"Authorization": "Bearer cl\xe9".encode("latin-1")}
        answer = client.post("/v1/parse", content=encode(person), headers=headers)
        assert answer.status_code == 401
        assert (
            client.post(
                "/v1/parse", content=encode(person), headers={"Authorization": "Bearer s3cret"}
            ).status_code
            == 200
        )


def test_mask_parameters_are_capped(predictor):
    person = synthetic_person(0, size=(48, 40))
    with TestClient(create_app(predictor, ServeSettings(warmup=False))) as client:
        query = "&".join(f"mask=m{i}=hat" for i in range(MAX_MASKS + 1))
        answer = client.post(f"/v1/parse?format=json&{query}", content=encode(person))
        assert answer.status_code == 422 and f"at most {MAX_MASKS} mask" in answer.json()["error"]
        query = "&".join(f"mask=m{i}=hat" for i in range(3))
        assert client.post(f"/v1/parse?format=json&{query}", content=encode(person)).status_code == 200


def _call(app, receive_messages, timeout=10.0):
    """Run one POST /v1/parse through the ASGI app with the given client messages; return what it sent."""
    sent = []
    messages = list(receive_messages)

    async def receive():
        if messages:
            item = messages.pop(0)
            if item == "hang":
                await asyncio.sleep(3600)
            return item
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/parse", "raw_path": b"/v1/parse", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"image/png"), (b"content-length", b"100")],
        "client": ("10.0.0.7", 5555), "server": ("testserver", 80),
    }  # fmt: skip

    async def run():
        await asyncio.wait_for(app(scope, receive, send), timeout)

    asyncio.run(run())
    return sent


def test_a_slow_body_is_answered_408(predictor):
    app = create_app(predictor, ServeSettings(warmup=False, timeout_s=0.3))
    sent = _call(app, [{"type": "http.request", "body": b"\x89PNG", "more_body": True}, "hang"])
    assert sent[0]["status"] == 408 and b"did not arrive within 0.3 s" in sent[1]["body"]


def test_a_client_hang_up_logs_one_line(predictor, caplog):
    app = create_app(predictor, ServeSettings(warmup=False))
    with caplog.at_level(logging.INFO):
        _call(
            app,
            [{"type": "http.request", "body": b"\x89PNG", "more_body": True}, {"type": "http.disconnect"}],
        )
    lines = [record for record in caplog.records if "closed the connection" in record.getMessage()]
    assert len(lines) == 1 and "10.0.0.7" in lines[0].getMessage() and lines[0].exc_info is None
    assert not any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_a_large_photo_is_decoded_reduced_and_answered_at_its_size(predictor, monkeypatch, image_format):
    from humanparse.serve import service as service_module

    seen = []
    real_prepare = service_module.ParseService.prepare
    monkeypatch.setattr(
        service_module.ParseService,
        "prepare",
        lambda self, image: seen.append(image.shape) or real_prepare(self, image),
    )
    # flat 20 px blocks, so that every way of shrinking it (JPEG DCT scaling, area averaging) gives the same
    # pixels: this random-weight network turns on tiny input differences, unlike a trained one
    person = Image.fromarray(synthetic_person(1, size=(120, 90)))
    photo = np.asarray(person.resize((1800, 2400), Image.NEAREST))
    buffer = io.BytesIO()
    Image.fromarray(photo).save(
        buffer, format=image_format, **({"quality": 95} if image_format == "JPEG" else {})
    )
    with TestClient(create_app(predictor, ServeSettings(warmup=False, max_side=600))) as client:
        answer = client.post("/v1/parse", content=buffer.getvalue())
    assert answer.status_code == 200
    labels = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert labels.shape == (2400, 1800)  # the photo's size
    assert max(seen[-1][:2]) <= 600  # what was decoded and worked on
    # the labels are those of the photo at 600 px, brought back to its size: as the photo shrunk by INTER_AREA
    import cv2

    bgr = photo[..., ::-1].copy()
    small = cv2.resize(bgr, (450, 600), interpolation=cv2.INTER_AREA)
    reference = cv2.resize(predictor(small), (1800, 2400), interpolation=cv2.INTER_NEAREST)
    # PNG: the same pixels; JPEG: its DCT-scaled decode differs a little from a full decode shrunk
    assert (labels == reference).mean() > (0.999 if image_format == "PNG" else 0.9)
