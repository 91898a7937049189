"""The dynamic batcher: concurrent requests share calls within the token budget and the wait, each gets
its own answers in order, kinds never mix, an error reaches exactly the requests of its call."""
import asyncio
import threading

import pytest

from seqtasks.tools.batcher import DynamicBatcher


class Recorder:
    """A handler that answers each row with (kind, row) and remembers every call."""

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[tuple[str, list]] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, kind: str, rows: list) -> list:
        with self.lock:
            self.calls.append((kind, list(rows)))
        if self.fail_on and self.fail_on in rows:
            raise ValueError(f"bad row {self.fail_on}")
        return [(kind, row) for row in rows]


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_one_call_and_get_their_own_rows_back():
    handler = Recorder()
    batcher = DynamicBatcher(handler, max_batch_tokens=1000, max_wait_ms=200)

    async def main():
        return await asyncio.gather(*(batcher.submit("predict", [f"{k}.{i}" for i in range(k + 1)], k + 1)
                                      for k in range(5)))

    answers = run(main())
    batcher.close()
    assert answers == [[("predict", f"{k}.{i}") for i in range(k + 1)] for k in range(5)]
    assert len(handler.calls) == 1 and len(handler.calls[0][1]) == 15


def test_a_budget_of_one_token_runs_every_request_alone():
    handler = Recorder()
    batcher = DynamicBatcher(handler, max_batch_tokens=1, max_wait_ms=200)

    async def main():
        return await asyncio.gather(*(batcher.submit("predict", [k, k], 2) for k in range(4)))

    assert run(main()) == [[("predict", k)] * 2 for k in range(4)]
    batcher.close()
    assert sorted(rows for _, rows in handler.calls) == [[k, k] for k in range(4)]


def test_the_token_budget_splits_calls_and_kinds_never_mix():
    handler = Recorder()
    batcher = DynamicBatcher(handler, max_batch_tokens=10, max_wait_ms=200)

    async def main():
        jobs = [batcher.submit("predict", ["a"], 6), batcher.submit("predict", ["b"], 6),
                batcher.submit("embed", ["c"], 1), batcher.submit("predict", ["d"], 3)]
        return await asyncio.gather(*jobs)

    assert run(main()) == [[("predict", "a")], [("predict", "b")], [("embed", "c")], [("predict", "d")]]
    batcher.close()
    for kind, rows in handler.calls:
        assert all(row in "abd" for row in rows) if kind == "predict" else rows == ["c"]
    assert ["a", "b"] not in [rows for _, rows in handler.calls]  # 6 + 6 > 10


def test_an_error_reaches_the_requests_of_its_call_and_the_worker_goes_on():
    batcher = DynamicBatcher(Recorder(fail_on="bad"), max_batch_tokens=1, max_wait_ms=0)

    async def main():
        return await asyncio.gather(batcher.submit("predict", ["bad"], 1), batcher.submit("predict", ["good"], 1),
                                    return_exceptions=True)

    failed, fine = run(main())
    batcher.close()
    assert isinstance(failed, ValueError) and str(failed) == "bad row bad"
    assert fine == [("predict", "good")]


def test_close_answers_what_is_queued():
    release = threading.Event()

    def slow(kind, rows):
        release.wait(5)
        return rows

    batcher = DynamicBatcher(slow, max_batch_tokens=1, max_wait_ms=0)

    async def main():
        tasks = [asyncio.ensure_future(batcher.submit("predict", [k], 1)) for k in range(3)]
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().run_in_executor(None, batcher.close)
        release.set()
        await closing
        return await asyncio.gather(*tasks)

    assert run(main()) == [[0], [1], [2]]
    assert not batcher.thread.is_alive()


@pytest.mark.parametrize("wait", [0.0, 5.0])
def test_a_lone_request_is_answered_at_any_wait(wait):
    batcher = DynamicBatcher(Recorder(), max_batch_tokens=8192, max_wait_ms=wait)
    assert run(batcher.submit("predict", ["x"], 1)) == [("predict", "x")]
    batcher.close()


def test_clients_that_send_again_when_answered_are_gathered_into_one_call_again():
    """4 clients answered together send again 3 ms apart; the server has accepted only those that have
    arrived (pending), so the worker catches up with it after the first. Expecting the last call's 4
    again, it waits for the rest (within max_wait_ms) instead of running the first alone."""
    handler = Recorder()
    accepted = 0
    batcher = DynamicBatcher(handler, max_batch_tokens=1000, max_wait_ms=2000, pending=lambda: accepted)

    async def client(k: int, delay: float):
        nonlocal accepted
        await asyncio.sleep(delay)
        accepted += 1
        try:
            return await batcher.submit("predict", [k], 1)
        finally:
            accepted -= 1

    async def main():
        first = await asyncio.gather(*(client(k, 0) for k in range(4)))
        again = await asyncio.gather(*(client(k, 0.003 * k) for k in range(4)))
        return first, again

    first, again = run(main())
    batcher.close()
    assert first == again == [[("predict", k)] for k in range(4)]
    assert [rows for _, rows in handler.calls] == [[0, 1, 2, 3], [0, 1, 2, 3]]
