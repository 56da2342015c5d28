"""Serve a parsing model over HTTP, with micro-batching and a web page (needs `pip install humanparse[serve]`).

POST /v1/parse (an image as the body or a multipart file) answers the indexed label PNG, a mask or JSON;
GET /v1/model, /healthz, /metrics (Prometheus) and / (the page, try a photo in a browser). Requests that arrive
within --max-wait-ms of each other run as one batch of up to --max-batch photos. Binds 127.0.0.1 unless --host
says otherwise; with --api-key, /v1/* need `Authorization: Bearer KEY`.
"""

from __future__ import annotations

import argparse

from humanparse.cli.options import (
    add_backend_option,
    add_device_option,
    add_kernels_option,
    add_model_arguments,
    add_precision_option,
    add_set_option,
    add_tta_options,
    load_model_config,
    note_demo_model,
    passive_openmp_threads,
    resolve_model_arguments,
)

KEEP_ALIVE_S = 5  # seconds an idle keep-alive connection stays open


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    add_device_option(parser)
    add_precision_option(parser)
    add_kernels_option(parser)
    add_backend_option(parser)
    add_tta_options(parser)
    parser.add_argument("--max-batch", type=int, default=8, help="photos per batch at most (default 8)")
    parser.add_argument(
        "--max-wait-ms", type=float, default=10.0, help="how long a request waits for company (default 10)"
    )
    parser.add_argument(
        "--max-queue", type=int, default=64, help="waiting requests before answering 503 (default 64)"
    )
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="request body limit (default 20)")
    parser.add_argument(
        "--max-pixels", type=float, default=40e6, help="photo size limit, width x height (default 40e6)"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds a request may wait for its answer (default 30)"
    )
    parser.add_argument(
        "--palette", choices=["lip", "voc", "fashn"], help="colours of the PNGs (default: the dataset's)"
    )
    parser.add_argument(
        "--api-key", help="require `Authorization: Bearer KEY` on /v1/* (or set HUMANPARSE_API_KEY)"
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument(
        "--request-threads",
        type=int,
        help="threads decoding and encoding photos beside the model (default: on the CPU the cores --threads "
        "leaves free, at least 1; on a GPU all cores)",
    )
    add_set_option(parser)


def run(args: argparse.Namespace) -> int:
    import os

    # idle OpenMP threads sleep, so the cores they would burn decode uploads and encode answers
    # (benchmarks/serve_load.py: 0.84x -> 0.96x offline predict on 2 cores)
    passive_openmp_threads()
    from humanparse.errors import ConfigError
    from humanparse.serve.startup import check_port, resolve_api_key

    # every option checked before the (slow) imports and the model
    check_port(args.port)
    api_key = resolve_api_key(args.api_key, os.environ)
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    try:
        import uvicorn

        from humanparse.serve.app import ServeSettings, create_app
    except ImportError as error:
        raise ConfigError(f"serve needs `pip install humanparse[serve]` ({error.name} is missing)") from error
    from humanparse.inference.backends import create_predictor

    for name in ("max_batch", "max_queue", "request_threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("max_wait_ms", "max_upload_mb", "max_pixels", "timeout"):
        if getattr(args, name) < 0 or (name != "max_wait_ms" and getattr(args, name) == 0):
            raise ConfigError(f"--{name.replace('_', '-')} must be positive")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    resolve_model_arguments(args)
    config = load_model_config(args)
    predictor = create_predictor(
        config,
        args.checkpoint,
        backend=args.backend,
        device=args.device,
        scales=args.scales,
        flip=args.flip,
        precision=args.precision,
        kernels=args.kernels,
    )
    note_demo_model(config.name)  # after the checks: an error stays one line
    settings = ServeSettings(
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        max_queue=args.max_queue,
        max_upload_mb=args.max_upload_mb,
        max_pixels=args.max_pixels,
        timeout_s=args.timeout,
        api_key=api_key,
        request_threads=args.request_threads,
    )
    app = create_app(predictor, settings, palette=args.palette)
    print(f"serving {config.name} on http://{args.host}:{args.port}/ (Ctrl+C stops)")
    # keep-alive: idle connections are closed after 5 s; a body that does not arrive within --timeout is
    # answered 408 by the app (uvicorn itself has no body timeout)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", timeout_keep_alive=KEEP_ALIVE_S)
    return 0
