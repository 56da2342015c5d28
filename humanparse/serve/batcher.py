"""Micro-batching: requests wait up to `max_wait_s` for company, then run together in one worker thread.

Jobs carry a key (the request's test-time options); one batch holds up to `max_batch` jobs, and jobs with
different keys in it run as separate calls. The queue is bounded: `submit` raises `QueueFull` at once when
`max_queue` jobs are waiting. A job whose caller gave up (timeout, disconnect: its future is cancelled) is
dropped before it runs, and its result is discarded if it was already running; the others are not affected.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, Hashable, List, Optional, Sequence

RunBatch = Callable[[Hashable, Sequence[Any]], Sequence[Any]]
"""(key, items) -> one result per item, called in the worker thread."""


class QueueFull(Exception):
    """The batcher's queue holds `max_queue` jobs already."""


@dataclass
class _Job:
    key: Hashable
    item: Any
    future: asyncio.Future
    arrival: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Group concurrent `submit` calls into batches for `run_batch`, run one batch at a time off the event loop.

    `on_batch(size, seconds)` is called after every batch with its size and the time the model took (metrics).
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        max_batch: int = 8,
        max_wait_s: float = 0.01,
        max_queue: int = 64,
        on_batch: Optional[Callable[[int, float], None]] = None,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or max_wait_s < 0:
            raise ValueError("max_batch and max_queue must be at least 1, max_wait_s at least 0")
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._pending: Deque[_Job] = deque()
        self._running = 0
        self._wakeup: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._executor: Optional[ThreadPoolExecutor] = None

    @property
    def depth(self) -> int:
        """Jobs waiting plus jobs in the batch that is running."""
        return len(self._pending) + self._running

    @property
    def full(self) -> bool:
        """True when `submit` would raise QueueFull."""
        return len(self._pending) >= self.max_queue

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the batching loop on the running event loop (call once)."""
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="humanparse-model")
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop the loop; waiting jobs are cancelled."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while self._pending:
            self._pending.popleft().future.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, item: Any, key: Hashable = None, timeout_s: Optional[float] = None) -> Any:
        """The result of `item`; QueueFull when the queue is full, asyncio.TimeoutError after `timeout_s`."""
        if not self.running:
            raise RuntimeError("the batcher is not running")
        if self.full:
            raise QueueFull(f"{len(self._pending)} requests are waiting")
        job = _Job(key, item, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._wakeup.set()
        # wait_for cancels the future on timeout or when the caller is cancelled: the loop then skips the job
        return await asyncio.wait_for(job.future, timeout_s)

    async def _next_batch(self) -> List[_Job]:
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        # the first job's wait counts from its arrival: jobs that queued behind a running batch go at once
        deadline = self._pending[0].arrival + self.max_wait_s
        while len(self._pending) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                break
        count = min(self.max_batch, len(self._pending))
        return [self._pending.popleft() for _ in range(count)]

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [job for job in await self._next_batch() if not job.future.done()]
            if not batch:
                continue
            groups: Dict[Hashable, List[_Job]] = {}
            for job in batch:
                groups.setdefault(job.key, []).append(job)
            self._running = len(batch)
            start = time.perf_counter()
            try:
                for key, jobs in groups.items():
                    items = [job.item for job in jobs]
                    try:
                        results = await loop.run_in_executor(self._executor, self.run_batch, key, items)
                    except Exception as error:  # one failing batch fails its own requests only
                        for job in jobs:
                            if not job.future.done():
                                job.future.set_exception(error)
                        continue
                    for job, result in zip(jobs, results):
                        if not job.future.done():
                            job.future.set_result(result)
            finally:
                self._running = 0
                if self.on_batch is not None:
                    self.on_batch(len(batch), time.perf_counter() - start)
