"""The FastAPI application: POST /v1/parse, GET /v1/model, /healthz, /metrics and the web page at /.

Errors answer JSON `{"error": "<one line>"}` with the status saying what went wrong (400 empty or truncated
body, 401 missing/wrong API key, 413 upload or pixel count over the limit, 415 not an image, 422 bad parameter,
503 queue full (with Retry-After), 504 timed out). With an API key, /v1/* need `Authorization: Bearer KEY`;
the page, /healthz and /metrics stay open (the page asks for the key).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from humanparse.serve.batcher import MicroBatcher, QueueFull
from humanparse.serve.metrics import ServeMetrics
from humanparse.serve.service import ParseOptions, ParseService, parse_options
from humanparse.serve.uploads import UploadError, decode_for_network, full_size_labels, working_side

STATIC_DIR = Path(__file__).resolve().parent / "static"
_ENDPOINTS = ("/v1/parse", "/v1/model", "/healthz", "/metrics", "/")
_MULTIPART = "multipart/form-data"


@dataclass
class ServeSettings:
    """The limits and options of `humanparse serve` (see its --help)."""

    max_batch: int = 8
    max_wait_ms: float = 10.0
    max_queue: int = 64
    max_upload_mb: float = 20.0
    max_pixels: float = 40e6
    timeout_s: float = 30.0
    api_key: Optional[str] = None
    retry_after_s: int = 1
    warmup: bool = True
    request_threads: Optional[int] = None  # None: default_request_threads(device)
    max_side: Optional[int] = None  # longest side decoded and worked on; None: uploads.working_side(config)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def default_request_threads(device: str) -> int:
    """Threads that decode, resize and encode photos beside the model: on a GPU every core; on the CPU the cores
    the model's threads leave free, at least one (more would only slow the model: on 2 cores, 40 such threads
    served 8-11% fewer photos per second than 1 in benchmarks/serve_load.py)."""
    import torch

    cores = os.cpu_count() or 1
    if str(device).startswith("cuda"):
        return cores
    return max(1, cores - torch.get_num_threads())


_logger = logging.getLogger("humanparse.serve")


def _client(request) -> str:
    client = request.client
    return f"{client.host}:{client.port}" if client else "?"


def _error(status: int, message: str, headers: Optional[dict] = None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _RequestMetrics:
    """ASGI middleware: counts every answer by endpoint and status, and times parse requests."""

    def __init__(self, app, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        endpoint = path if path in _ENDPOINTS else ("/static" if path.startswith("/static/") else "other")
        start = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.requests.labels(endpoint, str(status[0])).inc()
            if endpoint == "/v1/parse":
                self.metrics.latency.observe(time.perf_counter() - start)


async def _read_body(request, limit: int, timeout_s: Optional[float] = None) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes (never read whole first), and with
    408 when it has not all arrived within `timeout_s` (a slow-body client must not hold a connection)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise UploadError(413, f"upload of {int(length)} bytes is over the limit of {limit} bytes")

    async def read() -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise UploadError(413, f"upload is over the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    if timeout_s is None:
        return await read()
    try:
        return await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        raise UploadError(408, f"the request body did not arrive within {timeout_s:g} s") from None


async def _multipart_file(request, body: bytes) -> Tuple[bytes, List[Tuple[str, str]]]:
    """(the uploaded file's bytes, the text fields) of a multipart body already read."""
    from starlette.datastructures import UploadFile
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def stream():
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=1, max_fields=32).parse()
    except MultiPartException as error:
        raise UploadError(400, f"malformed multipart body: {error.message}") from error
    files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    fields = [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    if not files:
        raise UploadError(400, "the multipart body has no file part (send the image as field 'file')")
    data = await files[0].read()
    await form.close()
    return data, fields


def create_app(predictor, settings: Optional[ServeSettings] = None, palette: Optional[str] = None):
    """A FastAPI app serving `predictor` (a humanparse Predictor, loaded once) with `settings`' limits."""
    settings = settings or ServeSettings()
    service = ParseService(predictor, palette)
    request_threads = settings.request_threads or default_request_threads(predictor.device)
    request_pool: Optional[ThreadPoolExecutor] = None  # started and stopped with the app, like the batcher
    metrics = ServeMetrics(settings.max_batch, lambda: float(batcher.depth))
    batcher = MicroBatcher(
        service.run_batch,
        max_batch=settings.max_batch,
        max_wait_s=settings.max_wait_ms / 1000.0,
        max_queue=settings.max_queue,
        on_batch=metrics.observe_batch,
    )

    @asynccontextmanager
    async def lifespan(app):
        nonlocal request_pool
        request_pool = ThreadPoolExecutor(request_threads, thread_name_prefix="humanparse-request")
        await batcher.start()
        if settings.warmup:  # the first request should not pay for kernel selection and allocation
            import numpy as np

            image = np.full((64, 48, 3), 128, dtype=np.uint8)
            sample = service.prepare(image)
            await asyncio.get_running_loop().run_in_executor(None, service.run_batch, (None, None), [sample])
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            await batcher.stop()
            request_pool.shutdown(wait=True)

    # no /docs or /redoc: they load their scripts from a CDN, and the server works offline (/openapi.json stays)
    app = FastAPI(title="humanparse", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.ready = False
    app.state.service = service
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.request_threads = request_threads
    app.add_middleware(_RequestMetrics, metrics=metrics)

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, error: UploadError):
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return _error(error.status, error.message, headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        return _error(error.status_code, str(error.detail).splitlines()[0], getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        first = (error.errors() or [{}])[0]
        return _error(422, f"invalid request: {first.get('msg', 'bad parameter')} at {first.get('loc')}")

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, error: ClientDisconnect):
        # a client that hangs up is no server error: one line, no traceback (nothing can be answered)
        _logger.info("client %s closed the connection before its request was read", _client(request))
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):
        message = str(error).splitlines()[0] if str(error) else ""
        return _error(500, f"internal error: {type(error).__name__}: {message}"[:300])

    max_side = settings.max_side or working_side(service.config)

    def decode_and_prepare(body: bytes):
        # at most `max_side` pixels a side are decoded and worked on, whatever the photo's size: the memory of a
        # request is bounded by max_side, not by --max-pixels (see the README's "Memory of serve")
        image, full = decode_for_network(body, settings.max_pixels, max_side)
        return service.prepare(image), full

    def answer(labels, full, options):
        return service.answer(full_size_labels(labels, full), options)

    def check_key(request: Request) -> None:
        if settings.api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        # bytes, not text: compare_digest refuses non-ASCII text (a 500 for any non-ASCII token); Starlette
        # decodes headers as latin-1, so encoding back gives the bytes the client sent
        given = token.strip().encode("latin-1", "replace")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given, settings.api_key.encode("ascii")):
            raise UploadError(401, "missing or wrong API key: send 'Authorization: Bearer KEY'")

    @app.post("/v1/parse")
    async def parse(request: Request) -> Any:
        """Parse one photo: the label PNG (default), a mask PNG, or JSON (format=json)."""
        check_key(request)
        options: ParseOptions = parse_options(request.query_params.multi_items(), service.class_names)
        if batcher.full:  # shed load before reading the body
            raise QueueFull()
        body = await _read_body(request, settings.max_upload_bytes, settings.timeout_s)
        if request.headers.get("content-type", "").lower().startswith(_MULTIPART):
            body, fields = await _multipart_file(request, body)
            if fields:
                params = request.query_params.multi_items() + fields
                options = parse_options(params, service.class_names)
        loop = asyncio.get_running_loop()
        sample, full = await loop.run_in_executor(request_pool, decode_and_prepare, body)
        del body
        labels = await batcher.submit(sample, options.key, settings.timeout_s)
        content, media_type = await loop.run_in_executor(request_pool, answer, labels, full, options)
        return Response(content, media_type=media_type)

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, error: QueueFull):
        return _error(
            503,
            f"server busy: {settings.max_queue} requests queued; retry after {settings.retry_after_s} s",
            {"Retry-After": str(settings.retry_after_s)},
        )

    @app.exception_handler(asyncio.TimeoutError)
    async def timed_out(request: Request, error: asyncio.TimeoutError):
        return _error(504, f"the model did not answer within {settings.timeout_s:g} s")

    @app.get("/v1/model")
    async def model(request: Request) -> Any:
        """The served model: config name, classes, palette, protocol and input size."""
        check_key(request)
        return service.model_info()

    @app.get("/healthz")
    async def healthz() -> Any:
        """200 once the model is loaded and warmed up and the batcher runs, else 503."""
        if app.state.ready and batcher.running:
            return {"status": "ok", "model": service.config.name}
        return _error(503, "not ready: the model is loading or the batcher stopped")

    @app.get("/metrics")
    async def prometheus() -> Any:
        """Prometheus text: requests by status, parse latency, batch sizes, queue depth."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", include_in_schema=False)
    async def page() -> Any:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
