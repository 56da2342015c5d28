"""The HTTP API through FastAPI's TestClient: every endpoint, every refusal, batching and load shedding."""

from __future__ import annotations

import base64
import io
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from serve_fixtures import RECIPE, encode, require, synthetic_person

require("fastapi", "httpx", "multipart", "prometheus_client")
from fastapi.testclient import TestClient  # noqa: E402

from humanparse.configs import get_config  # noqa: E402
from humanparse.data.io import label_png  # noqa: E402
from humanparse.data.labels import get_palette  # noqa: E402
from humanparse.inference.masks import compute_mask  # noqa: E402
from humanparse.inference.predictor import Predictor  # noqa: E402
from humanparse.serve.app import ServeSettings, create_app  # noqa: E402
from humanparse.serve.service import png_bytes  # noqa: E402

# 64 px network inputs keep the tests quick on two shared cores
CONFIG = get_config(RECIPE).override(["eval.input_size=[64,64]"])


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint):
    return Predictor(CONFIG, tiny_checkpoint)


@pytest.fixture(scope="module")
def person():
    return synthetic_person(0, size=(96, 72))


@pytest.fixture(scope="module")
def client(predictor):
    with TestClient(create_app(predictor, ServeSettings(max_wait_ms=1))) as client:
        yield client


def _labels_png(predictor, image) -> bytes:
    return png_bytes(label_png(predictor(image), "lip"))


def test_parse_answers_the_label_png_of_the_predictor(client, predictor, person):
    expected = _labels_png(predictor, person)
    raw = client.post("/v1/parse", content=encode(person), headers={"content-type": "image/png"})
    assert raw.status_code == 200 and raw.headers["content-type"] == "image/png"
    assert raw.content == expected
    picture = Image.open(io.BytesIO(raw.content))
    assert picture.mode == "P" and picture.size == (72, 96)
    assert np.array_equal(np.asarray(picture.getpalette(), np.uint8).reshape(-1, 3), get_palette("lip"))
    jpeg = encode(person, ".jpg")
    multipart = client.post("/v1/parse", files={"file": ("me.jpg", jpeg, "image/jpeg")})
    assert multipart.status_code == 200
    assert multipart.content == _labels_png(predictor, _as_server_decodes(jpeg))


def _as_server_decodes(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_json_lists_classes_with_pixel_counts_and_masks(client, predictor, person):
    labels = predictor(person)
    answer = client.post(
        "/v1/parse?format=json&mask=person=foreground&mask=top=upper_clothes,coat",
        content=encode(person),
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["width"], body["height"], body["model"]) == (72, 96, RECIPE)
    counts = np.bincount(labels.ravel(), minlength=20)
    assert [c["index"] for c in body["classes"]] == np.flatnonzero(counts).tolist()
    assert len(body["classes"]) >= 2
    for item in body["classes"]:
        assert item["pixels"] == counts[item["index"]]
        assert item["name"] == predictor.class_names[item["index"]]
        assert item["color"] == get_palette("lip")[item["index"]].tolist()
    assert body["labels"]["encoding"] == "png+base64"
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["labels"]["data"]))))
    np.testing.assert_array_equal(decoded, labels)
    person_mask = body["masks"]["person"]
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(person_mask["data"]))))
    np.testing.assert_array_equal(mask, compute_mask(labels, range(1, 20)))
    assert person_mask["pixels"] == int((labels > 0).sum())
    assert body["masks"]["top"]["classes"] == ["upper_clothes", "coat"]


def test_png_mask_and_test_time_options(client, predictor, person):
    mask = client.post("/v1/parse?mask=hair=hair,hat", content=encode(person))
    assert mask.status_code == 200
    picture = Image.open(io.BytesIO(mask.content))
    assert picture.mode == "L"
    np.testing.assert_array_equal(np.asarray(picture), compute_mask(predictor(person), (1, 2)))
    tta = client.post("/v1/parse?scales=0.75,1.25&flip=true", content=encode(person))
    variant = Predictor(
        CONFIG, model=predictor.model, forward=predictor.tta.forward, scales=[0.75, 1.25], flip=True
    )
    assert tta.status_code == 200 and tta.content == _labels_png(variant, person)


def test_model_health_metrics_and_page(client, person):
    model = client.get("/v1/model").json()
    assert model["name"] == RECIPE and model["num_classes"] == 20 and len(model["classes"]) == 20
    assert model["palette"][2] == [255, 0, 0] and model["protocol"] == "resize"
    assert model["input_size"] == [64, 64]
    assert client.get("/healthz").json() == {"status": "ok", "model": RECIPE}
    client.post("/v1/parse", content=b"")
    client.post("/v1/parse", content=encode(person))
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'humanparse_requests_total{endpoint="/v1/parse",status="400"}' in text
    assert 'humanparse_requests_total{endpoint="/v1/parse",status="200"}' in text
    assert "humanparse_parse_latency_seconds_bucket" in text
    assert 'humanparse_batch_size_bucket{le="1.0"}' in text
    assert "humanparse_batch_seconds_count" in text
    assert "humanparse_queue_depth 0.0" in text
    page = client.get("/")
    assert page.status_code == 200 and "<title>humanparse</title>" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/docs").status_code == 404  # no CDN-loading docs page; /openapi.json stays
    assert client.get("/openapi.json").status_code == 200


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG whose header claims width x height (a few bytes of zlib-compressed zeros follow)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "query, body, status, message",
    [
        ("", b"", 400, "empty body"),
        ("", b"GIF? no, just text", 415, "not an image"),
        ("", encode(np.zeros((8, 8, 3), np.uint8))[:-20], 400, "truncated"),
        ("?format=gif", b"x", 422, "format must be"),
        ("?flip=maybe", b"x", 422, "flip must be"),
        ("?scales=1,big", b"x", 422, "scales must be numbers"),
        ("?scales=9", b"x", 422, "scales takes"),
        ("?mask=hat", b"x", 422, "not NAME=CLASS"),
        ("?mask=m=tail", b"x", 422, "unknown class 'tail'"),
        ("?mask=a=hat&mask=b=hair", b"x", 422, "one mask"),
        ("?colour=red", b"x", 422, "unknown parameter 'colour'"),
        ("?format=png&format=json", b"x", 422, "more than once"),
    ],
)
def test_bad_requests_get_their_status_and_a_one_line_message(client, query, body, status, message):
    answer = client.post(f"/v1/parse{query}", content=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert message in error and "\n" not in error


def test_multipart_without_a_file_is_refused(client):
    boundary = "b0undary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\njson\r\n--{boundary}--\r\n'
    answer = client.post(
        "/v1/parse",
        content=body.encode(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 400 and "no file part" in answer.json()["error"]


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/nothing").json() == {"error": "Not Found"}
    assert client.get("/v1/parse").status_code == 405


def test_limits_refuse_big_uploads_and_decompression_bombs(predictor, person, monkeypatch):
    import cv2

    settings = ServeSettings(max_upload_mb=20 / 1024, max_pixels=1e6)  # 20 KiB, one megapixel
    bomb = _png_header_only(50_000, 50_000)  # 2.5 gigapixels in 100 bytes
    real_bomb = encode(np.zeros((1200, 1000, 3), np.uint8))  # 1.2 megapixels, a few KiB compressed
    assert len(real_bomb) < 20 * 1024
    decoded = []
    real_imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: decoded.append(1) or real_imdecode(*a))
    with TestClient(create_app(predictor, settings)) as client:
        decoded.clear()  # the warm-up does not decode
        for data in (bomb, real_bomb):
            answer = client.post("/v1/parse", content=data)
            assert answer.status_code == 413 and "over the limit of 1000000 pixels" in answer.json()["error"]
        assert decoded == []  # refused from the header, before any pixel was decoded
        big = client.post("/v1/parse", content=b"\xff" * (21 * 1024))
        assert big.status_code == 413 and "over the limit of 20480 bytes" in big.json()["error"]
        multipart = client.post("/v1/parse", files={"file": ("a.bin", b"\xff" * (21 * 1024), "image/png")})
        assert multipart.status_code == 413
        assert client.post("/v1/parse", content=encode(person)).status_code == 200


def test_api_key_guards_the_api_but_not_the_page(predictor, person):
    with TestClient(create_app(predictor, ServeSettings(api_key="s3cret", warmup=False))) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            answer = client.post("/v1/parse", content=encode(person), headers=headers)
            assert answer.status_code == 401 and "API key" in answer.json()["error"]
            assert answer.headers["www-authenticate"] == "Bearer"
            assert client.get("/v1/model", headers=headers).status_code == 401
        good = {"Authorization": "Bearer s3cret"}
        assert client.post("/v1/parse", content=encode(person), headers=good).status_code == 200
        assert client.get("/v1/model", headers=good).status_code == 200
        assert client.get("/").status_code == 200 and client.get("/healthz").status_code == 200


def test_batched_answers_equal_single_ones(predictor):
    photos = [synthetic_person(seed, size=(96 + 8 * seed, 72)) for seed in range(4)]
    expected = [_labels_png(predictor, photo) for photo in photos]
    app = create_app(predictor, ServeSettings(max_batch=4, max_wait_ms=2000, warmup=False))
    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda photo: client.post("/v1/parse", content=encode(photo)), photos))
        assert [a.status_code for a in answers] == [200] * 4
        assert [a.content for a in answers] == expected
        histogram = app.state.metrics.batch_size.collect()[0].samples
        count = next(s.value for s in histogram if s.name.endswith("_count"))
        total = next(s.value for s in histogram if s.name.endswith("_sum"))
        assert total == 4 and count < 4  # at least one batch held several photos


def _blocking(app):
    """Make the app's model wait for `release`; returns (release, started) events."""
    batcher = app.state.batcher
    run = batcher.run_batch
    release, started = threading.Event(), threading.Event()

    def blocked(key, items):
        started.set()
        assert release.wait(30)
        return run(key, items)

    batcher.run_batch = blocked
    return release, started


def test_full_queue_answers_503_with_retry_after_and_recovers(predictor, person):
    app = create_app(predictor, ServeSettings(max_batch=1, max_queue=1, max_wait_ms=0, warmup=False))
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        release, started = _blocking(app)
        running = pool.submit(client.post, "/v1/parse", content=encode(person))
        assert started.wait(30)  # the first photo holds the model
        waiting = pool.submit(client.post, "/v1/parse", content=encode(person))
        while app.state.batcher.depth < 2:  # the second one waits in the queue
            threading.Event().wait(0.01)
        refused = client.post("/v1/parse", content=encode(person))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "server busy" in refused.json()["error"]
        release.set()
        assert running.result().status_code == 200 and waiting.result().status_code == 200
        assert client.post("/v1/parse", content=encode(person)).status_code == 200


def test_timeout_answers_504_and_later_requests_are_served(predictor, person):
    app = create_app(predictor, ServeSettings(max_batch=1, timeout_s=0.3, warmup=False))
    with TestClient(app) as client:
        release, _ = _blocking(app)
        answer = client.post("/v1/parse", content=encode(person))
        assert answer.status_code == 504 and "did not answer within 0.3 s" in answer.json()["error"]
        release.set()
        app.state.batcher.run_batch = app.state.service.run_batch
        ok = client.post("/v1/parse", content=encode(person))
        assert ok.status_code == 200 and ok.content == _labels_png(predictor, person)


def test_an_app_serves_again_after_a_restart(predictor, person):
    app = create_app(predictor, ServeSettings(warmup=False))
    for _ in range(2):  # lifespan shutdown stops the batcher and the request threads; startup makes new ones
        with TestClient(app) as client:
            assert client.post("/v1/parse", content=encode(person)).status_code == 200
