"""Load test of `humanparse serve` on this machine's loopback: throughput, latency, batch sizes, overload.

Starts the server in a subprocess on 127.0.0.1 and measures, in order:
  1. offline: the `humanparse predict` pipeline at batch --max-batch over copies of the photos as files (what
     the target compares with), and `Predictor.predict_batch` on decoded photos (the network alone, a ceiling);
  2. load: --clients closed-loop clients for --seconds (target: >= 0.9x offline predict, no failure);
  3. overload: open-loop arrivals at --overload x the measured throughput for --overload-seconds (target: only
     200s and 503s with Retry-After, the server alive, its memory bounded);
  4. recovery: sequential requests after the overload all answer 200.
Every phase is bounded in time and request count; the server is stopped at the end.

  python benchmarks/serve_load.py                                  # random-weight ce2p_tiny_synthetic
  python benchmarks/serve_load.py --checkpoint humanparse_demo/run/best.pth --seconds 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

HOST = "127.0.0.1"  # loopback only


@dataclass
class Outcome:
    """What the requests of one phase got."""

    latencies: List[float] = field(default_factory=list)
    statuses: Dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0
    errors: List[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, seconds: float, retry_after: Optional[str]) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.latencies.append(seconds)
            if status == 503 and not retry_after:
                self.retry_after_missing += 1

    def fail(self, error: str) -> None:
        with self.lock:
            self.errors.append(error)

    def percentiles(self) -> str:
        if not self.latencies:
            return "no answers"
        p50, p95, p99 = np.percentile(np.asarray(self.latencies) * 1000, [50, 95, 99])
        return f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms"


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--config", default="ce2p_tiny_synthetic", help="recipe (default ce2p_tiny_synthetic)"
    )
    parser.add_argument(
        "--checkpoint", help="weights (default: random weights, BatchNorm set on synthetic people)"
    )
    parser.add_argument(
        "--clients", type=int, default=8, help="concurrent clients of the load phase (default 8)"
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="load phase length (default 8)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating offline / load rounds, medians reported (default 3)",
    )
    parser.add_argument("--max-batch", type=int, default=4, help="server --max-batch (default 4)")
    parser.add_argument("--max-wait-ms", type=float, default=10.0, help="server --max-wait-ms (default 10)")
    parser.add_argument("--max-queue", type=int, default=16, help="server --max-queue (default 16)")
    parser.add_argument("--overload", type=float, default=4.0, help="overload arrival rate / throughput (4)")
    parser.add_argument(
        "--overload-seconds", type=float, default=5.0, help="overload phase length (default 5)"
    )
    parser.add_argument("--max-requests", type=int, default=5000, help="requests per phase at most (5000)")
    parser.add_argument(
        "--size", type=int, nargs=2, default=[256, 176], metavar=("H", "W"), help="photo size"
    )
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count(), help="torch threads, server and offline"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _photos(size, count: int = 8) -> List[np.ndarray]:
    from humanparse.data.synth import render_sample

    return [render_sample("lip", tuple(size), np.random.default_rng(seed))[0] for seed in range(count)]


def _random_checkpoint(config: str, folder: Path, photos: List[np.ndarray]) -> Path:
    import torch

    import humanparse
    from humanparse.data.transforms import build_val_transform
    from humanparse.models.checkpoint_io import checkpoint_dict

    torch.manual_seed(0)
    model = humanparse.build_model(config)
    transform = build_val_transform(model.config)
    for module in model.modules():  # with the initial statistics every pixel gets the same class
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    with torch.no_grad():
        model.train()(torch.stack([transform(photo)["image"] for photo in photos[:4]]))
    path = folder / f"{config}_random.pth"
    torch.save(checkpoint_dict(model.eval()), path)
    return path


def _request(port: int, method: str, path: str, body: Optional[bytes] = None, timeout: float = 60.0):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, response.getheader("Retry-After"), response.read()
    finally:
        connection.close()


def _wait_ready(port: int, server: subprocess.Popen, limit_s: float = 180.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if _request(port, "GET", "/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def _batch_histogram(port: int) -> Dict[int, float]:
    """Cumulative counts of humanparse_batch_size buckets by upper bound; key 0: the model's seconds so far."""
    text = _request(port, "GET", "/metrics")[2].decode()
    buckets = {}
    for match in re.finditer(r'humanparse_batch_size_bucket\{le="([0-9.]+)"\} ([0-9.e+]+)', text):
        buckets[int(float(match.group(1)))] = float(match.group(2))
    busy = re.search(r"^humanparse_batch_seconds_sum ([0-9.e+-]+)$", text, re.MULTILINE)
    buckets[0] = float(busy.group(1)) if busy else float("nan")
    return buckets


def _batch_sizes(before: Dict[int, float], after: Dict[int, float]) -> Dict[int, int]:
    cumulative = {size: after[size] - before.get(size, 0.0) for size in sorted(after) if size > 0}
    sizes, previous = {}, 0.0
    for size, count in cumulative.items():
        sizes[size] = int(round(count - previous))
        previous = count
    return sizes


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def offline_throughput(config: str, checkpoint: Path, photos, batch: int, seconds: float) -> float:
    """Photos per second of Predictor.predict_batch at `batch`, as many rounds as fit in `seconds`."""
    from humanparse.inference.predictor import Predictor

    predictor = Predictor(config, checkpoint)
    group = [photos[i % len(photos)] for i in range(batch)]
    predictor.predict_batch(group)  # warm-up
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or rounds < 3:
        predictor.predict_batch(group)
        rounds += 1
    return rounds * batch / (time.perf_counter() - start)


class OfflinePredict:
    """The `humanparse predict` pipeline at one batch size (decoding workers, network, background writes of the
    label PNGs) over `copies` copies of the photos as files; `run()` is photos per second of one warm run."""

    def __init__(self, config: str, checkpoint: Path, bodies: List[bytes], batch: int, folder: Path,
                 copies: int = 40) -> None:  # fmt: skip
        from humanparse.inference.pipeline import available_cores, default_workers
        from humanparse.inference.prediction_io import plan_inputs
        from humanparse.inference.predictor import Predictor

        photos = folder / "photos"
        photos.mkdir()
        for index in range(copies * len(bodies)):
            (photos / f"{index:05d}.png").write_bytes(bodies[index % len(bodies)])
        self.predictor = Predictor(config, checkpoint)
        self.items = plan_inputs([photos])
        self.workers = default_workers(available_cores())
        self.batch = batch
        self.out = folder / "parsed"
        self.run()  # starts the decoding processes' server once; steady state is what is measured

    def run(self) -> float:
        from humanparse.inference.pipeline import OutputSpec, run_pipeline

        summary = run_pipeline(self.predictor, self.items, self.out, OutputSpec(), batch_size=self.batch,
                               workers=self.workers, overwrite=True)  # fmt: skip
        return summary.done / summary.seconds


def closed_loop(
    port: int, bodies: List[bytes], clients: int, seconds: float, max_requests: int,
    outcome: Optional[Outcome] = None,
) -> Outcome:  # fmt: skip
    """`clients` clients, each sending its next photo as soon as the last answer came, for `seconds` (answers
    added to `outcome` when given)."""
    outcome = outcome if outcome is not None else Outcome()
    deadline = time.monotonic() + seconds
    budget = iter(range(max_requests))
    budget_lock = threading.Lock()

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        sent = 0
        while time.monotonic() < deadline:
            with budget_lock:
                if next(budget, None) is None:
                    break
            body = bodies[(index + sent) % len(bodies)]
            sent += 1
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/parse", body=body, headers={"Content-Type": "image/png"})
                response = connection.getresponse()
                response.read()
                outcome.add(response.status, time.perf_counter() - start, response.getheader("Retry-After"))
            except OSError as error:
                outcome.fail(f"{type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=60)
        connection.close()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return outcome


def open_loop(port: int, bodies: List[bytes], rate: float, seconds: float, max_requests: int) -> Outcome:
    """Requests arriving at `rate` per second for `seconds` whether or not earlier ones were answered."""
    outcome = Outcome()
    count = min(max_requests, int(rate * seconds))

    def send(index: int) -> None:
        start = time.perf_counter()
        try:
            status, retry_after, _ = _request(port, "POST", "/v1/parse", bodies[index % len(bodies)])
            outcome.add(status, time.perf_counter() - start, retry_after)
        except OSError as error:
            outcome.fail(f"{type(error).__name__}: {error}")

    start = time.monotonic()
    with ThreadPoolExecutor(64) as pool:  # at most 64 connections open at once
        for index in range(count):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index)
    return outcome


def main(argv: Optional[List[str]] = None) -> int:
    import cv2
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from benchlib.machine import print_machine

    print_machine()  # the CPU, its flags, threads and versions beside every figure
    photos = _photos(args.size)
    bodies = [cv2.imencode(".png", photo)[1].tobytes() for photo in photos]
    figures: Dict[str, object] = {"config": args.config, "clients": args.clients, "max_batch": args.max_batch}
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = (
            Path(args.checkpoint)
            if args.checkpoint
            else _random_checkpoint(args.config, Path(folder), photos)
        )
        figures["checkpoint"] = str(args.checkpoint or "random weights")
        network = offline_throughput(args.config, checkpoint, photos, args.max_batch, min(args.seconds, 10.0))
        offline = OfflinePredict(args.config, checkpoint, bodies, args.max_batch, Path(folder))
        print(
            f"network alone (Predictor.predict_batch on decoded photos), batch {args.max_batch}: "
            f"{network:.1f} photos/s",
            flush=True,
        )

        port = _free_port()
        command = [sys.executable, "-m", "humanparse", "serve", args.config, str(checkpoint), "--host", HOST]
        command += [
            "--port",
            str(port),
            "--max-batch",
            str(args.max_batch),
            "--max-wait-ms",
            str(args.max_wait_ms),
        ]
        command += ["--max-queue", str(args.max_queue), "--threads", str(args.threads)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_ready(port, server)
            rss_ready = _rss_mb(server.pid)
            before = _batch_histogram(port)
            load, offline_rates, load_rates, elapsed = Outcome(), [], [], 0.0
            for index in range(args.rounds):  # alternating, so that a change in the machine's load hits both
                offline_rates.append(offline.run())
                answered, start = load.statuses.get(200, 0), time.perf_counter()
                closed_loop(port, bodies, args.clients, args.seconds, args.max_requests, outcome=load)
                seconds = time.perf_counter() - start
                elapsed += seconds
                load_rates.append((load.statuses.get(200, 0) - answered) / seconds)
                print(
                    f"round {index + 1}: offline `humanparse predict` batch {args.max_batch} "
                    f"{offline_rates[-1]:.1f} photos/s, served to {args.clients} clients {load_rates[-1]:.1f} "
                    f"photos/s ({load_rates[-1] / offline_rates[-1]:.2f}x)",
                    flush=True,
                )
            ratio = float(np.median([ours / theirs for ours, theirs in zip(load_rates, offline_rates)]))
            throughput, offline_rate = float(np.median(load_rates)), float(np.median(offline_rates))
            failed = sum(n for status, n in load.statuses.items() if status != 200) + len(load.errors)
            after = _batch_histogram(port)
            sizes = _batch_sizes(before, after)
            busy = (after[0] - before[0]) / elapsed  # share of the time the model was running
            rss_load = _rss_mb(server.pid)
            print(
                f"load, {args.clients} clients, {args.rounds} x {args.seconds:g} s: {throughput:.1f} photos/s, "
                f"median {ratio:.2f}x offline predict ({offline_rate:.1f} photos/s), "
                f"{throughput / network:.2f}x the network alone; {load.percentiles()}, failed {failed}",
                flush=True,
            )
            served = max(load.statuses.get(200, 0), 1)
            print(
                f"  batch sizes: {sizes}; model busy {100 * busy:.0f}% of the time, "
                f"{1000 * (after[0] - before[0]) / served:.1f} ms of model time per photo "
                f"(offline {1000 / network:.1f} ms)",
                flush=True,
            )

            rate = args.overload * max(throughput, 0.1)
            over = open_loop(port, bodies, rate, args.overload_seconds, args.max_requests)
            other = {s: n for s, n in over.statuses.items() if s not in (200, 503)}
            rss_over = _rss_mb(server.pid)
            print(
                f"overload, {rate:.1f} requests/s for {args.overload_seconds:g} s: statuses {over.statuses}, "
                f"503 without Retry-After {over.retry_after_missing}, other statuses {other}, "
                f"connection errors {len(over.errors)}; server RSS {rss_ready:.0f} MB ready, "
                f"{rss_load:.0f} MB after load, {rss_over:.0f} MB after overload",
                flush=True,
            )
            recovered = [_request(port, "POST", "/v1/parse", bodies[i % len(bodies)])[0] for i in range(5)]
            alive = server.poll() is None and _request(port, "GET", "/healthz")[0] == 200
            print(f"recovery: statuses {recovered}, server alive and healthy: {alive}", flush=True)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    figures.update(
        offline_predict_photos_per_s=round(offline_rate, 2),
        network_photos_per_s=round(network, 2),
        load_photos_per_s=round(throughput, 2),
        ratio_to_offline=round(ratio, 3),
        rounds={
            "offline_predict": [round(v, 2) for v in offline_rates],
            "served": [round(v, 2) for v in load_rates],
        },
        load_latency_ms={
            q: round(float(np.percentile(np.asarray(load.latencies) * 1000, q)), 1) for q in (50, 95, 99)
        }
        if load.latencies
        else {},
        load_failed=failed,
        batch_sizes=sizes,
        model_busy=round(busy, 3),
        overload_rate=round(rate, 1),
        overload_statuses=over.statuses,
        overload_other_statuses=other,
        overload_connection_errors=len(over.errors),
        overload_503_without_retry_after=over.retry_after_missing,
        rss_mb={"ready": round(rss_ready), "after_load": round(rss_load), "after_overload": round(rss_over)},
        recovery_statuses=recovered,
        alive=alive,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    ok = failed == 0 and not other and not over.errors and over.retry_after_missing == 0 and alive
    ok = ok and all(status == 200 for status in recovered)
    print("targets: " + ("met" if ok and ratio >= 0.9 else "NOT met (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
