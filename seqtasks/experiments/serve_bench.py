"""`seqtasks bench --serve RUN [RUN ...]`: the server under load on loopback, against the bare model.

For each run, backend (torch; onnxruntime int8) and batching (on: the defaults; off: a budget of one
request, --max-batch-tokens 1), a `seqtasks serve` process answers 1, 8 and 64 concurrent clients, each
sending one dev sentence per request, bounded in requests and in seconds. Reported: requests/s,
tokens/s and p50/p95/p99 latency, next to what the same model does without a server in this process
(predict_rows over the same sentences at batch 256: the server's ceiling) and its batch-1 time (the
floor of a lone request's latency). The server and the load generator share this machine's cores,
as they would on a one-box deployment; the ratios are measured in one run, each cell the median of
interleaved rounds (3 by default; --quick: 1).
"""
from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch

from seqtasks.core.checkpoint import strict_json
from seqtasks.core.errors import ConfigError, SeqtasksError
from seqtasks.engine.prepare import read_split
from seqtasks.engine.run import RunFolder, load_run
from seqtasks.tools.deploy import export_run, load_deployed
from seqtasks.tools.predict import predict_rows

CLIENTS = (1, 8, 64)


def dev_texts(run_dir: Path, count: int) -> list[str]:
    run = load_run(run_dir)
    if run.task.pair:
        raise ConfigError(f"{run_dir}: bench --serve sends single texts; serve a classification or tagging run")
    if not run.config.data.dev:
        raise ConfigError(f"{run_dir}: bench --serve sends dev sentences, and this run carved its own dev split")
    rows = read_split(run.config, run.config.data.dev).rows
    return [" ".join(tokens) for tokens in rows.select(range(min(count, len(rows))))["tokens"]]


def bare_model(run, texts: list[str]) -> dict:
    """Tokens/s of predict_rows over the texts at batch 256 (what `seqtasks predict` does with a file)
    and at 64 (the largest batch 64 one-text clients can form), best of 3; the median batch-1 time."""
    tokens = sum(len(text.split()) for text in texts)  # dev tokens joined by spaces
    predict_rows(run, [[texts[0]]])
    speed = {}
    for size in (256, 64):
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for i in range(0, len(texts), size):
                predict_rows(run, [[text] for text in texts[i:i + size]])  # one batch of `size`
            best = min(best, time.perf_counter() - start)
        speed[size] = tokens / best
    singles = []
    for text in texts[:200]:
        start = time.perf_counter()
        predict_rows(run, [[text]])
        singles.append(time.perf_counter() - start)
    return {"tokens_per_s": speed[256], "tokens_per_s_batch_64": speed[64],
            "batch1_ms": 1000 * statistics.median(singles)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run_dir: Path, backend: str, batching: bool, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-c", "import sys; from seqtasks.cli import main; sys.exit(main())", "serve",
               str(run_dir), "--port", str(port), "--threads", str(threads), "--max-texts", "1024"]
    if backend == "onnx int8":
        command += ["--backend", "onnx", "--int8"]
    if not batching:
        command += ["--max-batch-tokens", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SeqtasksError(f"bench --serve: the server stopped: {process.stderr.read()[-500:]}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1) as response:
                if response.status == 200:
                    return process, url
        except OSError:  # not listening yet, or 503 while loading
            time.sleep(0.2)
    process.kill()
    raise SeqtasksError("bench --serve: the server did not become ready in 120 s")


class Connection:
    """One keep-alive HTTP/1.1 connection that posts JSON and reads the answer: a load generator as
    small as wrk's, so the clients' own work takes little of the cores the server needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def load(url: str, name: str, texts: list[str], clients: int, requests: int, seconds: float) -> dict:
    """`clients` concurrent connections, each posting one text at a time, until `requests` or `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    bodies = [strict_json({"texts": [text]}).encode() for text in texts]
    latencies: list[float] = []
    tokens = errors = sent = 0
    stop = time.monotonic() + seconds
    path = f"/v1/models/{name}/predict"

    async def loop() -> None:
        nonlocal tokens, errors, sent
        connection = await Connection.open(host, int(port))
        try:
            while sent < requests and time.monotonic() < stop:
                k = sent % len(texts)
                sent += 1
                started = time.perf_counter()
                status, _ = await connection.post(path, bodies[k])
                latencies.append(time.perf_counter() - started)
                if status == 200:
                    tokens += len(texts[k].split())
                else:
                    errors += 1
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)

    def quantile(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"clients": clients, "requests": len(latencies), "errors": errors, "tokens": tokens,
            "seconds": round(elapsed, 2),
            "requests_per_s": len(latencies) / elapsed, "tokens_per_s": tokens / elapsed,
            "p50_ms": quantile(0.50), "p95_ms": quantile(0.95), "p99_ms": quantile(0.99)}


def run_clients(load_coroutine) -> dict:
    """Runs the clients on uvloop where it is installed (the serve extra brings it): the clients share
    the cores with the server, and a lighter event loop leaves more of them to what is measured."""
    try:
        import uvloop  # optional: uvicorn[standard] installs it
    except ImportError:
        return asyncio.run(load_coroutine)
    return uvloop.run(load_coroutine)


def bench_run(run_dir: Path, quick: bool, threads: int, rounds: int, log: Callable[[str], None]) -> dict:
    """Both servers of a backend (batching on and off) stay up while `rounds` rounds go over every
    cell in turn, the bare model's reference included; each cell reports its median round, so a slow
    minute of a shared machine weighs on every cell alike instead of on whichever ran then."""
    texts = dev_texts(run_dir, 2000)
    if not RunFolder(run_dir).graph(int8=True).is_file():
        log(f"bench --serve: exporting {run_dir}")
        export_run(run_dir, int8=True)
    torch.set_num_threads(threads)
    result = {"run": str(run_dir), "recipe": load_run(run_dir).config.recipe, "threads": threads,
              "rounds": rounds, "backends": []}
    for backend in ("torch", "onnx int8"):
        run = load_run(run_dir) if backend == "torch" else load_deployed(run_dir, int8=True, threads=threads)
        servers: dict[bool, tuple[subprocess.Popen, str]] = {}
        cells: dict[tuple[bool, int], list[dict]] = {}
        bares: list[dict] = []
        try:
            for batching in (True, False):
                servers[batching] = start_server(run_dir, backend, batching, threads)
                # unmeasured: a fresh process's first requests pay for lazy imports and first-seen shapes
                run_clients(load(servers[batching][1], Path(run_dir).name, texts, 8, 50 if quick else 400, 30))
            for round_index in range(rounds):
                bares.append(bare_model(run, texts))
                for batching, (_, url) in servers.items():
                    for clients in CLIENTS:
                        requests = (50 if quick else 400) * (1 if clients == 1 else 2 if clients == 8 else 4)
                        log(f"bench --serve: {result['recipe']}, {backend}, batching {'on' if batching else 'off'}, "
                            f"{clients} client(s), round {round_index + 1}/{rounds}")
                        cells.setdefault((batching, clients), []).append(
                            run_clients(load(url, Path(run_dir).name, texts, clients, requests, 10 if quick else 60)))
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(30)
        rows = [{"batching": batching, **median_row(cells[(batching, clients)])}
                for batching in (True, False) for clients in CLIENTS]
        bare = median_row(bares)
        on64, off64 = (next(r for r in rows if r["batching"] is b and r["clients"] == 64) for b in (True, False))
        one = next(r for r in rows if r["batching"] and r["clients"] == 1)
        result["backends"].append({
            "backend": backend, "bare_tokens_per_s": bare["tokens_per_s"], "batch1_ms": bare["batch1_ms"],
            "bare_tokens_per_s_batch_64": bare["tokens_per_s_batch_64"],
            "rows": rows, "batching_speedup_64": on64["requests_per_s"] / off64["requests_per_s"],
            "server_over_bare_64": on64["tokens_per_s"] / bare["tokens_per_s"],
            "server_over_bare_batch_64": on64["tokens_per_s"] / bare["tokens_per_s_batch_64"],
            "p99_1_client_ms": one["p99_ms"], "p99_limit_ms": 2 * bare["batch1_ms"] + 5})
    return result


def median_row(rounds: list[dict]) -> dict:
    """Each number's median over the rounds (the counts too), with the rounds' requests/s beside it."""
    row = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    if "requests_per_s" in row:
        row["requests_per_s_rounds"] = [r["requests_per_s"] for r in rounds]
    return row


def run_serve_bench(run_dirs: list[str], quick: bool = False, threads: int = 1, rounds: int = 3,
                    log: Callable[[str], None] = print) -> dict:
    return {"runs": [bench_run(Path(run_dir), quick, threads, 1 if quick else rounds, log) for run_dir in run_dirs]}


def serve_table(result: dict) -> str:
    lines = ["| run | backend | batching | clients | requests/s | (rounds) | tokens/s | p50 ms | p95 ms | p99 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    summary = []
    for run in result["runs"]:
        for backend in run["backends"]:
            for row in backend["rows"]:
                lines.append(f"| {run['recipe']} | {backend['backend']} | {'on' if row['batching'] else 'off'} | "
                             f"{row['clients']} | {row['requests_per_s']:,.0f} | "
                             f"{' '.join(f'{r:,.0f}' for r in row['requests_per_s_rounds'])} | {row['tokens_per_s']:,.0f} | "
                             f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} |")
            summary.append(f"{run['recipe']}, {backend['backend']}: at 64 clients batching serves "
                           f"{backend['batching_speedup_64']:.1f}x the requests/s of no batching and "
                           f"{backend['server_over_bare_64']:.2f}x the tokens/s of predict at batch 256 "
                           f"({backend['bare_tokens_per_s']:,.0f}), {backend['server_over_bare_batch_64']:.2f}x "
                           f"at batch 64 ({backend['bare_tokens_per_s_batch_64']:,.0f}); 1 client p99 {backend['p99_1_client_ms']:.1f} ms "
                           f"against 2 x batch-1 ({backend['batch1_ms']:.1f} ms) + 5 = {backend['p99_limit_ms']:.1f} ms")
    return "\n".join(lines + [""] + summary)
