"""Database reads of hot handlers batched per event loop (core.hotdb.LoopBatcher)."""

import asyncio
import threading

import pytest

from core.hotdb import LoopBatcher


def test_callers_of_one_moment_are_answered_by_one_call_on_a_worker_thread():
    calls = []

    def work(keys):
        calls.append((sorted(keys), threading.current_thread() is threading.main_thread()))
        return {key: key * 10 for key in keys if key != 3}

    batcher = LoopBatcher(work)

    async def main():
        return await asyncio.gather(*(batcher.get(key) for key in (1, 2, 2, 3)))

    assert asyncio.run(main()) == [10, 20, 20, None]  # a key left out of the answer is None
    assert calls == [([1, 2, 3], False)]


def test_callers_arriving_during_a_call_are_answered_together_by_the_next():
    started, release = threading.Event(), threading.Event()
    calls = []

    def work(keys):
        calls.append(sorted(keys))
        if len(calls) == 1:
            started.set()
            release.wait(5)
        return {key: True for key in keys}

    batcher = LoopBatcher(work)

    async def main():
        first = asyncio.ensure_future(batcher.get(1))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        later = [asyncio.ensure_future(batcher.get(key)) for key in (2, 3, 4)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *later)

    assert asyncio.run(main()) == [True] * 4
    assert calls == [[1], [2, 3, 4]]


def test_a_failing_call_fails_each_caller_it_answers_and_the_next_call_still_runs():
    failures = iter([RuntimeError("database away")])

    def work(keys):
        error = next(failures, None)
        if error:
            raise error
        return {key: "ok" for key in keys}

    batcher = LoopBatcher(work)

    async def main():
        results = await asyncio.gather(batcher.get(1), batcher.get(2), return_exceptions=True)
        return results, await batcher.get(3)

    results, after = asyncio.run(main())
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    assert after == "ok"


def test_a_caller_that_goes_away_does_not_disturb_the_others():
    release = threading.Event()

    def work(keys):
        release.wait(5)
        return {key: key for key in keys}

    batcher = LoopBatcher(work)

    async def main():
        leaving = asyncio.ensure_future(batcher.get(1))
        staying = asyncio.ensure_future(batcher.get(2))
        await asyncio.sleep(0.01)
        leaving.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(main()) == 2
