"""Dynamic batching: requests that arrive together share one forward pass.

One worker thread per served model takes the first waiting request, then gathers more of the same
kind until `max_batch_tokens` would be passed or `max_wait_ms` has gone by, runs them as one call (the
inference loop sorts rows by length, so padding stays low), and hands each request back its own rows'
answers in order. The model runs on this thread, never on the server's event loop, so a slow forward
pass does not hold up /health. A request larger than the budget runs alone; `max_batch_tokens=1`
therefore turns batching off (each request is its own pass), which is what `bench --serve` compares.

The wait is only for requests expected to come: given `pending()` (the requests the server has
accepted for this model), the worker stops gathering once it holds them all and as many as its last
call held. A lone client therefore pays no `max_wait_ms`, and clients that send again as soon as they
are answered are gathered into one call again, rather than split wherever the worker catches up with
the server's reading of their requests (64 such clients on an sst2 run: 44 requests a call without
the second rule, 60 with it, and 12% more requests/s). A drop in traffic costs one call's wait, at
most `max_wait_ms`.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[str, list[Any]], list[Any]]  # (kind, rows) -> one answer per row


@dataclass
class Job:
    kind: str  # which handler call: predict, embed, explain
    rows: list[Any]
    tokens: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Gathers concurrent jobs into calls of `handle(kind, rows)`; `on_batch(rows)` sees each call's size."""

    def __init__(self, handle: Handler, max_batch_tokens: int = 8192, max_wait_ms: float = 5.0,
                 on_batch: Callable[[int], None] | None = None, name: str = "model",
                 pending: Callable[[], int] | None = None) -> None:
        self.handle, self.max_tokens, self.max_wait = handle, max_batch_tokens, max_wait_ms / 1000
        self.pending = pending
        self.on_batch = on_batch or (lambda rows: None)
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.carried: Job | None = None  # taken while gathering, but for the next call
        self.last_jobs = 1  # requests the last call held: how many to expect again
        self.thread = threading.Thread(target=self.loop, name=f"batcher-{name}", daemon=True)
        self.thread.start()

    def depth(self) -> int:
        """Jobs waiting (the queue-depth gauge)."""
        return self.jobs.qsize() + (self.carried is not None)

    async def submit(self, kind: str, rows: list[Any], tokens: int) -> list[Any]:
        """This request's answers, once the worker has run the call it joined."""
        loop = asyncio.get_running_loop()
        job = Job(kind, rows, max(1, tokens), loop, loop.create_future())
        self.jobs.put(job)
        return await job.future

    def close(self) -> None:
        """Answer what is queued, then stop the worker (server shutdown)."""
        self.jobs.put(None)
        self.thread.join()

    def next_job(self, timeout: float | None) -> Job | None:
        if self.carried is not None:
            job, self.carried = self.carried, None
            return job
        return self.jobs.get(timeout=timeout) if timeout is None or timeout > 0 else self.jobs.get_nowait()

    def gather(self, first: Job) -> tuple[list[Job], bool]:
        """`first` and the jobs of its kind that fit the token budget within the wait; (jobs, stop)."""
        jobs, tokens = [first], first.tokens
        deadline = time.monotonic() + self.max_wait
        while tokens < self.max_tokens:
            all_here = self.pending is not None and self.pending() <= len(jobs) and self.jobs.empty()
            if all_here and len(jobs) >= self.last_jobs:
                break  # every request on its way is here, and as many as last time
            try:
                job = self.next_job(deadline - time.monotonic())
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            if job.kind != first.kind or tokens + job.tokens > self.max_tokens:
                self.carried = job
                break
            jobs.append(job)
            tokens += job.tokens
        return jobs, False

    def loop(self) -> None:
        stop = False
        while not stop or self.carried is not None:
            first = self.next_job(None)
            if first is None:
                stop = True
                continue
            jobs, stopping = self.gather(first)
            self.last_jobs = len(jobs)
            stop = stop or stopping
            self.run(jobs)
        while True:  # shutdown: whatever is still queued is answered, not dropped
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self.run([job])

    def run(self, jobs: list[Job]) -> None:
        rows = [row for job in jobs for row in job.rows]
        self.on_batch(len(rows))
        try:
            answers = self.handle(jobs[0].kind, rows)
        except BaseException as error:  # noqa: BLE001 (each waiting request gets the error, the worker lives on)
            for job in jobs:
                job.loop.call_soon_threadsafe(settle, job.future, None, error)
            return
        start = 0
        for job in jobs:
            part = answers[start:start + len(job.rows)]
            start += len(job.rows)
            job.loop.call_soon_threadsafe(settle, job.future, part, None)


def settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the client went away and the request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
