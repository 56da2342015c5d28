"""MicroBatcher: batches up to max_batch within max_wait, keys apart, a bounded queue, callers that leave."""

from __future__ import annotations

import asyncio
import threading

import pytest

from humanparse.serve.batcher import MicroBatcher, QueueFull


def _recorder(calls, delay=0.0):
    def run_batch(key, items):
        calls.append((key, list(items), threading.current_thread().name))
        if delay:
            threading.Event().wait(delay)
        return [f"{key}:{item}" for item in items]

    return run_batch


async def _with_batcher(batcher, body):
    await batcher.start()
    try:
        return await body()
    finally:
        await batcher.stop()


def test_concurrent_jobs_share_batches_of_max_batch_in_a_worker_thread():
    calls, sizes = [], []
    batcher = MicroBatcher(
        _recorder(calls), max_batch=3, max_wait_s=0.5, on_batch=lambda size, seconds: sizes.append(size)
    )

    async def body():
        return await asyncio.gather(*(batcher.submit(i, "k") for i in range(5)))

    results = asyncio.run(_with_batcher(batcher, body))
    assert results == [f"k:{i}" for i in range(5)]
    assert [items for _, items, _ in calls] == [[0, 1, 2], [3, 4]]
    assert sizes == [3, 2]
    assert all(name.startswith("humanparse-model") for _, _, name in calls)


def test_a_lone_job_waits_at_most_max_wait():
    calls = []
    batcher = MicroBatcher(_recorder(calls), max_batch=8, max_wait_s=0.05)

    async def body():
        loop = asyncio.get_running_loop()
        start = loop.time()
        result = await batcher.submit("x")
        return result, loop.time() - start

    result, seconds = asyncio.run(_with_batcher(batcher, body))
    assert result == "None:x" and 0.04 <= seconds < 2.0


def test_different_keys_run_as_separate_calls():
    calls = []
    batcher = MicroBatcher(_recorder(calls), max_batch=4, max_wait_s=0.2)

    async def body():
        return await asyncio.gather(batcher.submit(1, "a"), batcher.submit(2, "b"), batcher.submit(3, "a"))

    assert asyncio.run(_with_batcher(batcher, body)) == ["a:1", "b:2", "a:3"]
    assert sorted((key, items) for key, items, _ in calls) == [("a", [1, 3]), ("b", [2])]


def test_full_queue_raises_at_once_and_a_cancelled_caller_does_not_disturb_the_others():
    calls = []
    batcher = MicroBatcher(_recorder(calls, delay=0.3), max_batch=1, max_wait_s=0.0, max_queue=2)

    async def body():
        first = asyncio.ensure_future(batcher.submit("first"))
        await asyncio.sleep(0.1)  # first is running; two places in the queue
        leaving = asyncio.ensure_future(batcher.submit("leaving"))
        staying = asyncio.ensure_future(batcher.submit("staying"))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):
            await batcher.submit("refused")
        leaving.cancel()  # a client that disconnects
        results = await asyncio.gather(first, staying)
        assert leaving.cancelled()
        return results

    assert asyncio.run(_with_batcher(batcher, body)) == ["None:first", "None:staying"]
    assert [items for _, items, _ in calls] == [["first"], ["staying"]]  # the cancelled job never ran


def test_a_failing_batch_fails_only_its_own_jobs():
    def run_batch(key, items):
        if key == "bad":
            raise ValueError("broken photo")
        return items

    batcher = MicroBatcher(run_batch, max_batch=4, max_wait_s=0.1)

    async def body():
        bad = batcher.submit(1, "bad")
        good = batcher.submit(2, "good")
        return await asyncio.gather(bad, good, return_exceptions=True)

    bad, good = asyncio.run(_with_batcher(batcher, body))
    assert isinstance(bad, ValueError) and good == 2


def test_timeout_cancels_the_job():
    batcher = MicroBatcher(_recorder([], delay=0.2), max_batch=1, max_wait_s=0.0)

    async def body():
        with pytest.raises(asyncio.TimeoutError):
            await batcher.submit("slow", timeout_s=0.05)
        return await batcher.submit("next")

    assert asyncio.run(_with_batcher(batcher, body)) == "None:next"
