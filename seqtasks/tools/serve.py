"""`seqtasks serve`: trained runs behind an HTTP API (FastAPI + uvicorn, the `serve` extra).

    GET  /                              a demo page (seqtasks/tools/serve_page.html, nothing from the internet)
    GET  /health  /ready                live; models loaded and warmed up
    GET  /metrics                       Prometheus: requests by model, endpoint and status, latency,
                                        rows per forward pass, queue depth; the process (CPU, memory) and its collections
    GET  /v1/models                     each model: name, task, labels, dev metrics, backend
    POST /v1/models/NAME/predict        {"texts": [...]} or {"pairs": [[a, b], ...]} -> {"predictions": [...]},
                                        the records `seqtasks predict` writes for the same input
    POST /v1/models/NAME/embed          {"texts": [...]} -> {"embeddings": [[...], ...]} (pair tasks)
    POST /v1/models/NAME/explain        {"texts": [...]} -> attention weights per token (classification with
                                        attention) or tag probabilities per token (tagging)

Safe by default: loopback only unless an API key (or --no-auth) is given; the body, the number of
texts, characters and tokens per text are capped (413/422 naming the limit); bad input is a 4xx with
one message, never a traceback; CORS is off unless an origin is named; no endpoint reads a path.
"""
# No `from __future__ import annotations`: FastAPI reads the routes' annotations, and the request
# model is local to build_app (pydantic is imported only when serving).

import hmac
import ipaddress
import re
import signal
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import torch

from seqtasks.core.checkpoint import strict_json
from seqtasks.core.errors import ConfigError, SeqtasksError
from seqtasks.data.arrow_tokens import rows_in_memory
from seqtasks.engine.run import LoadedRun, RunFolder, load_run, read_json
from seqtasks.tasks.inference import gather_rows
from seqtasks.tools.batcher import DynamicBatcher
from seqtasks.tools.deploy import load_deployed
from seqtasks.tools.predict import embed_texts, predict_rows

OPEN_PATHS = ("/health", "/ready")  # answered without a key, for load balancers


def fastapi_modules():
    try:
        import fastapi  # optional: the serve extra
        import prometheus_client  # optional: the serve extra
        import uvicorn  # optional: the serve extra
    except ImportError:
        raise SeqtasksError("seqtasks serve needs FastAPI, uvicorn and prometheus-client: "
                            "pip install 'seqtasks[serve]'") from None
    return fastapi, prometheus_client, uvicorn


@dataclass(frozen=True)
class Limits:
    """What one request may hold; each refusal names its option."""

    max_body_bytes: int = 1 << 20
    max_texts: int = 256
    max_chars: int = 10_000
    max_tokens: int = 512
    max_batch_tokens: int = 8192
    max_wait_ms: float = 5.0

    def check(self) -> None:
        for name, value in vars(self).items():
            if not value > 0 and not (name == "max_wait_ms" and value == 0):
                raise ConfigError(f"--{name.replace('_', '-')} {value}: expected a positive number")


class RequestError(Exception):
    """A request the server refuses: its status and the one line the client reads."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class ServedModel:
    """One run (or one task of a multi-task run) under its name, with its batcher."""

    name: str
    run: Any  # LoadedRun or DeployedRun
    backend: str
    dev: dict
    batcher: DynamicBatcher | None = None
    in_flight: int = 0  # requests accepted and not yet answered (the batcher waits only for these)

    @property
    def pair(self) -> bool:
        return self.run.task.pair

    def describe(self) -> dict:
        return {"name": self.name, "task": self.run.config.task, "labels": self.run.labels.labels,
                "pairs": self.pair, "dev": self.dev, "backend": self.backend, "run": str(self.run.run_dir),
                "explain": self.explains()}

    def explains(self) -> str:
        """What /explain gives for this model: "attention", "tags", or "" (nothing to show)."""
        if self.run.task.name == "token-classification":
            return "tags"
        if self.run.task.name == "text-classification" and self.run.config.head.pooling == "attention":
            return "attention"
        return ""

    def handle(self, kind: str, rows: list) -> list:
        """A gathered batch of rows for one endpoint (runs on the batcher's thread)."""
        if kind == "predict":
            return predict_rows(self.run, rows)  # the inference loop sorts them by length
        if kind == "embed":
            return embed_texts(self.run, rows).tolist()
        return explain_rows(self, rows)


def explain_rows(model: ServedModel, texts: list[str]) -> list[dict]:
    """Per text: its tokens and predict's record, with the attention weights [heads][tokens] of an
    attention-pooled classifier, or each token's tag probabilities (softmax of the emissions; with a
    CRF the tags shown are the Viterbi path's, the probabilities each token's own)."""
    run = model.run
    records = predict_rows(run, [[text] for text in texts])
    real = [i for i, record in enumerate(records) if "error" not in record]
    if not real:
        return records
    tokens = [run.vocab.tokenize(texts[i]) for i in real]
    split = run.task.encode(rows_in_memory({"tokens": tokens, "line": list(range(1, len(real) + 1))}),
                            run.vocab, None, "input", 0, run.config.encoder.chars)
    name = "attention" if model.explains() == "attention" else "emissions"
    values = gather_rows(run.model, run.task, split, (name,))[name]
    for n, i in enumerate(real):
        length = len(tokens[n])
        if name == "attention":
            records[i]["tokens"] = tokens[n]
            records[i]["attention"] = [[round(w, 6) for w in head[:length].tolist()] for head in values[n]]
        else:
            probabilities = values[n][:length].softmax(-1)
            records[i]["probabilities"] = [{tag: round(p, 6) for tag, p in zip(run.labels.labels, row.tolist())}
                                           for row in probabilities]
    return records


def model_name(spec: str) -> tuple[str, Path]:
    """"NAME=RUN" or "RUN" (named by its folder)."""
    name, sep, path = spec.partition("=")
    return (name, Path(path)) if sep else (Path(spec).name, Path(spec))


def load_models(specs: list[str], backend: str, int8: bool, threads: int) -> list[ServedModel]:
    """Each run (a multi-task run: each of its tasks, as NAME.TASK), loaded and checked before the
    server starts: a broken run is one line at start, not a 500 later."""
    models: list[ServedModel] = []
    for spec in specs:
        name, path = model_name(spec)
        folder = RunFolder(path)
        metrics = read_json(folder.metrics, "the run's results") if folder.metrics.is_file() else {}
        for task in folder.task_names() or [""]:
            run = (load_deployed(path, int8=int8, threads=threads, task=task) if backend == "onnx"
                   else load_run(path, task=task))
            dev = metrics.get("tasks", {}).get(task, {}).get("dev", {}) if task else metrics.get("dev", {})
            label = f"{name}.{task}" if task else name
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", label):
                raise ConfigError(f"model name {label!r}: use letters, digits, '.', '_' and '-' (it is part of a URL); "
                                  f"name it with NAME={path}")
            if any(m.name == label for m in models):
                raise ConfigError(f"two models are named {label!r}: name them, e.g. {label}-2={path}")
            if not run.task.exportable and backend == "onnx":
                raise ConfigError(f"{path}: a {run.task.name} run has no exported graph to serve")
            models.append(ServedModel(label, run, f"onnx{' int8' if int8 else ''}" if backend == "onnx" else "torch",
                                      {k: v for k, v in dev.items() if isinstance(v, int | float)}))
    return models


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_api_key(path: str | None, host: str, no_auth: bool) -> str:
    """The key requests must carry; "" for none. Another address than loopback needs one, or --no-auth."""
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as error:
            raise ConfigError(f"--api-key-file {path}: {error.strerror}") from None
        if len(key) < 16:
            raise ConfigError(f"--api-key-file {path}: the key is {len(key)} characters; use at least 16")
        return key
    if not is_loopback(host) and not no_auth:
        raise ConfigError(f"--host {host} listens beyond this machine: give --api-key-file FILE (requests then "
                          f"send 'Authorization: Bearer KEY'), or --no-auth to serve without a key")
    return ""


# -- the app ---------------------------------------------------------------------------------------
ENDPOINTS = {"predict": "predictions", "embed": "embeddings", "explain": "explanations"}  # endpoint: reply key
MODEL_ROUTE = re.compile(r"/v1/models/([^/]+)/(predict|embed|explain)")
Answer = Callable[[str, str, bytes], Awaitable[tuple[int, dict]]]  # (name, endpoint, body) -> (status, reply)


class Front:
    """Plain ASGI in front of FastAPI: the key, then the body's size, then the three model endpoints.

    Those are answered here: the body read once, validated by the same pydantic model FastAPI would
    use, and the reply's JSON written straight out. Under load FastAPI's per-request machinery
    (dependency solving, its middleware stack, the response encoder) took as much CPU as the forward
    passes it waited for (a py-spy profile under `bench --serve`); on two cores that CPU is the
    throughput. FastAPI answers everything else, and its OpenAPI schema at /docs still describes these
    routes. (Starlette's BaseHTTPMiddleware would add an extra task a request, about 1 ms here.)"""

    def __init__(self, app, answer: Answer, api_key: str, max_body_bytes: int) -> None:
        self.app, self.answer, self.max_body = app, answer, max_body_bytes
        self.expected = f"Bearer {api_key}".encode() if api_key else b""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.expected and scope["path"] not in (*OPEN_PATHS, "/", "/favicon.ico") and \
                not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
            return await reply(send, 401, {"error": "missing or wrong API key: send 'Authorization: Bearer KEY'"})
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return await reply(send, 413, {"error": f"the body is over --max-body-bytes={self.max_body}"})
        route = MODEL_ROUTE.fullmatch(scope["path"]) if scope["method"] == "POST" else None
        if route is None and (length is not None or scope["method"] != "POST"):
            return await self.app(scope, receive, send)
        body = await self.read_body(receive)
        if body is None:
            return await reply(send, 413, {"error": f"the body is over --max-body-bytes={self.max_body}"})
        if route is None:  # a chunked POST elsewhere: read here, capped, and handed on

            async def replay():
                return {"type": "http.request", "body": body, "more_body": False}

            return await self.app(scope, replay, send)
        kind = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if kind != b"application/json" and not kind.endswith(b"+json"):
            return await reply(send, 415, {"error": "send the body as JSON, with Content-Type: application/json"})
        await reply(send, *await self.answer(route[1], route[2], body))

    async def read_body(self, receive) -> bytes | None:
        """The whole body, or None once it passes the cap (a chunked body has no length to check first)."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return b""
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                return None
        return b"".join(chunks)


async def reply(send, status: int, data: dict) -> None:
    body = strict_json(data).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def validation_message(errors: list[dict]) -> tuple[int, str]:
    """pydantic's first complaint about a request's body as (status, one line)."""
    first = errors[0]
    if first.get("type") == "json_invalid":
        return 400, f"the body is not valid JSON: {first.get('ctx', {}).get('error', first['msg'])}"
    where = ".".join(str(part) for part in first.get("loc", ()))
    if not where:  # the body as a whole: not an object
        return 422, 'the body must be a JSON object such as {"texts": ["..."]}'
    return 422, f"{where}: {first['msg']}"


def build_app(models: list[ServedModel], limits: Limits, api_key: str = "", cors_origins: tuple[str, ...] = ()):
    """The FastAPI app over loaded models; it starts a batcher per model and warms each up."""
    fastapi, prometheus, _ = fastapi_modules()
    from fastapi import Request  # optional: the serve extra
    from fastapi.responses import HTMLResponse, JSONResponse, Response  # optional: the serve extra
    from pydantic import BaseModel, ConfigDict, ValidationError  # optional: the serve extra
    from starlette.exceptions import HTTPException  # optional: the serve extra

    registry = prometheus.CollectorRegistry()
    for standard in (prometheus.ProcessCollector, prometheus.PlatformCollector, prometheus.GCCollector):
        standard(registry=registry)  # the process's CPU, memory and file descriptors, Python's version and collections
    requests = prometheus.Counter("seqtasks_requests", "Requests answered", ["model", "endpoint", "status"],
                                  registry=registry)
    latency = prometheus.Histogram("seqtasks_request_seconds", "Time to answer a request", ["model", "endpoint"],
                                   registry=registry, buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
    batch_rows = prometheus.Histogram("seqtasks_batch_rows", "Rows per forward pass", ["model"], registry=registry,
                                      buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
    depth = prometheus.Gauge("seqtasks_queue_depth", "Requests waiting for a forward pass", ["model"],
                             registry=registry)
    in_flight = prometheus.Gauge("seqtasks_requests_in_flight", "Requests accepted and not yet answered", ["model"],
                                 registry=registry)
    by_name = {m.name: m for m in models}
    state = {"ready": False}

    @asynccontextmanager
    async def lifespan(app):
        for model in models:
            model.batcher = DynamicBatcher(model.handle, limits.max_batch_tokens, limits.max_wait_ms,
                                           batch_rows.labels(model.name).observe, model.name,
                                           pending=lambda model=model: model.in_flight)
            depth.labels(model.name).set_function(model.batcher.depth)
            in_flight.labels(model.name).set_function(lambda model=model: model.in_flight)
            warm = [["warm", "up"]] if model.pair else [["warm up"]]
            model.handle("predict", warm)  # the first forward pass allocates; not a user's request
        state["ready"] = True
        yield
        state["ready"] = False
        for model in models:  # after uvicorn has answered what was in flight
            model.batcher.close()

    app = fastapi.FastAPI(title="seqtasks", version=version(), lifespan=lifespan,
                          description="Trained seqtasks runs: predict, embed, explain.")

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):  # the server's log keeps the traceback; the client does not
        traceback.print_exception(exc, file=sys.stderr)
        return error(500, "internal error (the server's log has the details)")

    class Texts(BaseModel):
        model_config = ConfigDict(extra="forbid")
        texts: list[str] | None = None
        pairs: list[list[str]] | None = None

    def served(name: str) -> ServedModel:
        if name not in by_name:
            raise RequestError(404, f"no model {name!r}; models: {', '.join(by_name)}")
        return by_name[name]

    def rows_of(model: ServedModel, body: Texts, endpoint: str) -> tuple[list, int]:
        """The request's rows, checked against the limits, and their token count (the batch budget)."""
        if (body.texts is None) == (body.pairs is None):
            raise RequestError(422, 'send exactly one of "texts": [...] or "pairs": [[a, b], ...]')
        if model.pair and endpoint == "predict" and body.pairs is None:
            raise RequestError(422, f"{model.name} compares two texts: send \"pairs\": [[a, b], ...]")
        if body.pairs is not None and not (model.pair and endpoint == "predict"):
            raise RequestError(422, f"{model.name} /{endpoint} takes \"texts\": [...], one text each")
        rows = body.pairs if body.pairs is not None else body.texts
        if not rows:
            raise RequestError(422, "no texts: send at least one")
        if len(rows) > limits.max_texts:
            raise RequestError(413, f"{len(rows)} rows is over --max-texts={limits.max_texts}")
        tokens = 0
        for i, row in enumerate(rows):
            if body.pairs is not None and len(row) != 2:
                raise RequestError(422, f"pairs[{i}] holds {len(row)} text(s); a pair is two")
            for text in row if body.pairs is not None else [row]:
                if len(text) > limits.max_chars:
                    raise RequestError(422, f"texts[{i}]: {len(text)} characters is over --max-chars={limits.max_chars}")
                count = len(model.run.vocab.tokenize(text))
                if count > limits.max_tokens:
                    raise RequestError(422, f"texts[{i}]: {count} tokens is over --max-tokens={limits.max_tokens}")
                if endpoint == "embed" and not count:  # one empty text would fail the batch it joins
                    raise RequestError(422, f"texts[{i}]: empty; nothing to embed")
                tokens += count
        if body.pairs is None and endpoint == "predict":
            rows = [[text] for text in rows]  # predict's rows are lists of texts
        return rows, tokens

    async def answer(name: str, endpoint: str, raw: bytes) -> tuple[int, dict]:
        """A model endpoint's (status, reply) for a request's body; every refusal is a 4xx with one line."""
        started = time.perf_counter()
        label = name if name in by_name else "-"
        status = 200
        model = by_name.get(name)
        if model:
            model.in_flight += 1
        try:
            model = served(name)
            if endpoint == "embed" and not model.pair:
                raise RequestError(422, f"{name} is a {model.run.task.name} model; /embed needs a pair task's")
            if endpoint == "explain" and not model.explains():
                raise RequestError(422, f"{name} has nothing to explain (attention-pooled classifiers and "
                                        f"taggers do)")
            try:
                body = Texts.model_validate_json(raw)
            except ValidationError as problem:
                raise RequestError(*validation_message(problem.errors())) from None
            rows, tokens = rows_of(model, body, endpoint)
            try:
                return 200, {ENDPOINTS[endpoint]: await model.batcher.submit(endpoint, rows, tokens)}
            except SeqtasksError as problem:  # e.g. an empty text to embed
                raise RequestError(422, str(problem)) from None
        except RequestError as refusal:
            status = refusal.status
            return status, {"error": str(refusal)}
        except Exception as bug:  # noqa: BLE001 (a bug: the server's log keeps the traceback, the client gets one line)
            status = 500
            traceback.print_exception(bug, file=sys.stderr)
            return status, {"error": "internal error (the server's log has the details)"}
        finally:
            if model:
                model.in_flight -= 1
            requests.labels(label, endpoint, str(status)).inc()
            latency.labels(label, endpoint).observe(time.perf_counter() - started)

    def declare(endpoint: str, summary: str) -> None:
        """The route in the OpenAPI schema, where /docs shows its body model. Front answers these paths
        before FastAPI routes anything, so the handler never runs."""

        async def handler(name: str, body: Texts):
            raise RuntimeError(f"POST /v1/models/{name}/{endpoint} is answered by Front, not FastAPI")

        app.post(f"/v1/models/{{name}}/{endpoint}", summary=summary, name=endpoint)(handler)

    declare("predict", "predict's records for texts or pairs")
    declare("embed", "sentence vectors (pair tasks)")
    declare("explain", "attention weights or tag probabilities per token")

    @app.get("/v1/models")
    async def list_models():
        return {"models": [m.describe() for m in models]}

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        if not state["ready"]:
            return error(503, "models are loading")
        return {"ready": True, "models": [m.name for m in models]}

    @app.get("/metrics")
    async def metrics():
        return Response(prometheus.generate_latest(registry), media_type=prometheus.CONTENT_TYPE_LATEST)

    page = resources.files("seqtasks.tools").joinpath("serve_page.html").read_text()

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return Response(status_code=204)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo():
        return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'self'; "
                                           "script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"})

    front = Front(app, answer, api_key, limits.max_body_bytes)
    if not cors_origins:
        return front
    from starlette.middleware.cors import CORSMiddleware  # optional: the serve extra
    # outside Front, so preflights need no key and Front's own answers carry the CORS headers too
    return CORSMiddleware(front, allow_origins=list(cors_origins), allow_methods=["GET", "POST"],
                          allow_headers=["Authorization", "Content-Type"])


def version() -> str:
    try:
        return package_version("seqtasks")
    except PackageNotFoundError:
        return "0"


def serve(specs: list[str], backend: str = "torch", int8: bool = False, host: str = "127.0.0.1", port: int = 8000,
          api_key_file: str | None = None, no_auth: bool = False, limits: Limits = Limits(), threads: int = 0,
          cors_origins: tuple[str, ...] = ()) -> None:
    """Check everything, load the runs, then serve until SIGTERM or Ctrl-C (in-flight requests are
    answered first: uvicorn's graceful shutdown, then each batcher drains its queue)."""
    _, _, uvicorn = fastapi_modules()
    limits.check()
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port}: expected 0 to 65535")
    key = read_api_key(api_key_file, host, no_auth)
    if backend not in ("torch", "onnx"):
        raise ConfigError(f"--backend {backend!r}: expected torch or onnx")
    if int8 and backend != "onnx":
        raise ConfigError("--int8 is a choice of exported graph: use it with --backend onnx")
    if threads:
        torch.set_num_threads(threads)
    models = load_models(specs, backend, int8, threads)
    app = build_app(models, limits, key, cors_origins)
    print(strict_json({"serving": [m.name for m in models], "url": f"http://{host}:{port}/",
                      "auth": bool(key)}), flush=True)
    for stop in (signal.SIGTERM, signal.SIGINT):
        # uvicorn shuts down gracefully on these, then re-raises the signal to the handler it found:
        # a no-op one lets the process end with status 0 instead of dying of the signal it asked for.
        signal.signal(stop, lambda number, frame: None)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=30)


__all__ = ["Limits", "LoadedRun", "build_app", "load_models", "serve"]
