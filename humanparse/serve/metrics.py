"""Prometheus metrics of one server, in a registry of its own (several apps in one process stay apart)."""

from __future__ import annotations

from typing import Callable

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServeMetrics:
    """Requests by endpoint and status, parse latency, batch sizes and model time, queue depth."""

    def __init__(self, max_batch: int, queue_depth: Callable[[], float]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter(
            "humanparse_requests",
            "HTTP requests by endpoint and status code",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "humanparse_parse_latency_seconds",
            "time from a parse request's arrival to its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "humanparse_batch_size",
            "photos per batch run by the model",
            buckets=tuple(range(1, max_batch + 1)),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "humanparse_batch_seconds",
            "time the model took per batch",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        queue = Gauge("humanparse_queue_depth", "parse requests waiting or running", registry=self.registry)
        queue.set_function(queue_depth)

    def observe_batch(self, size: int, seconds: float) -> None:
        """Record one batch the model ran."""
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
