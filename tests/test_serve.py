"""seqtasks serve: the API answers what `seqtasks predict` writes, for every kind of task and both
backends; concurrent mixed requests each get their own answer; every limit and bad payload is a 4xx
with one message; keys are checked; SIGTERM loses no answered request; the demo page in a real browser
shows the API's label."""
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from seqtasks.cli import main
from seqtasks.core.errors import ConfigError
from seqtasks.engine.prepare import read_rows
from seqtasks.engine.run import load_run
from seqtasks.tools.predict import embed_texts, predict_rows

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
pytest.importorskip("prometheus_client")
from fastapi.testclient import TestClient

from seqtasks.experiments.serve_bench import free_port
from seqtasks.tools.serve import Limits, build_app, load_models, read_api_key

SMALL = ["--set", "encoder.hidden_size=16", "--set", "train.epochs=1", "--set", "train.max_steps=20",
         "--set", "encoder.vectors_vocab=20000"]
RECIPES = {  # recipe: (extra settings, dev file)
    "sst2": ([], "sst2/stsa.binary.dev"),
    "conll-ner": (["--set", "head.crf=true"], "conll2003/eng.testa"),
    "sick": ([], "sick/SICK_trial.txt"),
    "sick-entailment": ([], "sick/SICK_trial.txt"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir) -> dict[str, Path]:
    """A small trained run of each kind of task (classification with attention, tagging with a CRF,
    similarity, pair classification), exported for onnxruntime when it is installed."""
    root = tmp_path_factory.mktemp("served")
    folders = {}
    for recipe, (extra, _) in RECIPES.items():
        folders[recipe] = root / recipe
        assert main(["train", recipe, "--out", str(folders[recipe]), *SMALL, *extra]) == 0
        if has_onnx():
            assert main(["export", str(folders[recipe])]) == 0
    return folders


def has_onnx() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def dev_rows(run_dir: Path, data_dir: Path, recipe: str, count: int = 40) -> list[list[str]]:
    """Real dev rows as the texts a client sends: tokens joined by spaces (one text, or a pair's two)."""
    run = load_run(run_dir)
    rows, _ = read_rows(run.config, str(data_dir / RECIPES[recipe][1]))
    rows = rows.select(range(count))
    if run.task.pair:
        return [[" ".join(a), " ".join(b)] for a, b in zip(rows["tokens"], rows["tokens_b"])]
    return [[" ".join(tokens)] for tokens in rows["tokens"]]


def predicted(run_dir: Path, rows: list[list[str]], backend: str, monkeypatch, capsys) -> list[dict]:
    """What `seqtasks predict` writes for these rows (pairs tab-separated), one record per line."""
    lines = "".join("\t".join(row) + "\n" for row in rows)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    assert main(["predict", str(run_dir), "--backend", backend]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def same_record(got: dict, expected: dict) -> None:
    """Equal keys, labels, tags and texts; numbers to 1e-5 (a row's floats may differ in the last
    digits with the other rows of its batch)."""
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert got[key] == pytest.approx(value, abs=1e-5), key
        elif isinstance(value, dict):
            assert got[key].keys() == value.keys()
            assert list(got[key].values()) == pytest.approx(list(value.values()), abs=1e-5)
        else:
            assert got[key] == value, key


def app_for(run_dirs: list[Path], backend: str = "torch", limits: Limits | None = None, key: str = ""):
    return build_app(load_models([str(d) for d in run_dirs], backend, False, 1), limits or Limits(), key)


def body_of(rows: list[list[str]], pair: bool) -> dict:
    return {"pairs": rows} if pair else {"texts": [row[0] for row in rows]}


@pytest.mark.parametrize("backend", ["torch", "onnx"])
@pytest.mark.parametrize("recipe", list(RECIPES))
def test_api_answers_equal_seqtasks_predict(runs, data_dir, recipe, backend, monkeypatch, capsys):
    if backend == "onnx" and not has_onnx():
        pytest.skip("onnxruntime is not installed (the onnx extra)")
    run_dir = runs[recipe]
    rows = dev_rows(run_dir, data_dir, recipe)
    rows.insert(3, [""] * len(rows[0]))  # an empty input: a per-row error in both
    expected = predicted(run_dir, rows, backend, monkeypatch, capsys)
    pair = len(rows[0]) == 2
    with TestClient(app_for([run_dir], backend)) as client:
        got = []
        for start, size in ((0, 1), (1, 7), (8, len(rows) - 8)):  # requests of several sizes
            response = client.post(f"/v1/models/{recipe}/predict", json=body_of(rows[start:start + size], pair))
            assert response.status_code == 200, response.text
            got += response.json()["predictions"]
    assert len(got) == len(expected) == len(rows)
    for g, e in zip(got, expected):
        same_record(g, e)
    assert "error" in got[3]


def test_models_lists_provenance_and_ready_follows_the_warm_up(runs):
    with TestClient(app_for([runs["sst2"], runs["sick"]])) as client:
        assert client.get("/ready").json() == {"ready": True, "models": ["sst2", "sick"]}
        models = client.get("/v1/models").json()["models"]
    metrics = json.loads((runs["sst2"] / "metrics.json").read_text())
    assert models[0]["name"] == "sst2" and models[0]["task"] == "text-classification"
    assert models[0]["dev"]["accuracy"] == metrics["dev"]["accuracy"] and models[0]["labels"] == ["0", "1"]
    assert models[0]["explain"] == "attention" and models[1]["pairs"] and models[1]["backend"] == "torch"
    with pytest.raises(ConfigError, match="two models are named 'sst2'"):
        load_models([str(runs["sst2"])] * 2, "torch", False, 1)
    with pytest.raises(ConfigError, match="model name 'a/b'"):
        load_models([f"a/b={runs['sst2']}"], "torch", False, 1)
    assert [m.name for m in load_models([f"sentiment={runs['sst2']}"], "torch", False, 1)] == ["sentiment"]


def test_embed_and_explain_answer_what_the_library_computes(runs, data_dir):
    sick, sst2, ner = (load_run(runs[name]) for name in ("sick", "sst2", "conll-ner"))
    texts = ["a man is playing a guitar", "two dogs run", "a woman slices an onion"]
    with TestClient(app_for([runs["sick"], runs["sst2"], runs["conll-ner"]])) as client:
        vectors = client.post("/v1/models/sick/embed", json={"texts": texts}).json()["embeddings"]
        torch.testing.assert_close(torch.tensor(vectors), embed_texts(sick, texts), atol=1e-5, rtol=0)
        explained = client.post("/v1/models/sst2/explain", json={"texts": ["a gorgeous , witty film"]}).json()
        tagged = client.post("/v1/models/conll-ner/explain", json={"texts": ["John lives in Paris"]}).json()
        assert client.post("/v1/models/sick/explain", json={"texts": ["x"]}).status_code == 422
    from seqtasks.tools.explain import explain_text
    record = explained["explanations"][0]
    assert record["tokens"] == ["a", "gorgeous", ",", "witty", "film"]
    torch.testing.assert_close(torch.tensor(record["attention"]), explain_text(sst2, "a gorgeous , witty film").weights,
                               atol=1e-5, rtol=0)
    assert record["label"] == predict_rows(sst2, [["a gorgeous , witty film"]])[0]["label"]
    tags = tagged["explanations"][0]
    assert tags["tags"] == predict_rows(ner, [["John lives in Paris"]])[0]["tags"]
    assert [sum(p.values()) for p in tags["probabilities"]] == pytest.approx([1.0] * 4, abs=1e-4)
    assert set(tags["probabilities"][0]) == set(ner.labels.labels)


class ServerThread:
    """uvicorn in a thread of this process, on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        url = f"http://127.0.0.1:{self.port}"
        wait_ready(url)
        return url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def wait_ready(url: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process is None or process.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not become ready")


def test_hundreds_of_concurrent_mixed_requests_each_get_their_own_answer(runs, data_dir):
    rows = [row[0] for row in dev_rows(runs["sst2"], data_dir, "sst2", count=120)]
    alone = {text: predict_rows(load_run(runs["sst2"]), [[text]])[0] for text in rows}  # each row encoded alone
    requests = []
    for i in range(300):
        kind = i % 6
        if kind == 5:
            requests.append(("bad", b'{"texts": [1, 2]}'))
        elif kind == 4:
            requests.append(("bad", b'{"texts": '))
        else:
            chosen = [rows[(i * 7 + k) % len(rows)] for k in range(1 + (i % 9))]
            requests.append(("good", json.dumps({"texts": chosen}).encode()))
    with ServerThread(app_for([runs["sst2"]], limits=Limits(max_wait_ms=10))) as url, \
            httpx.Client(base_url=url, timeout=60) as client:

        def send(request):
            kind, body = request
            response = client.post("/v1/models/sst2/predict", content=body, headers={"content-type": "application/json"})
            return kind, body, response

        with ThreadPoolExecutor(max_workers=32) as pool:
            answered = list(pool.map(send, requests))
        metrics = client.get("/metrics").text
    for kind, body, response in answered:
        assert response.status_code < 500, response.text
        if kind == "bad":
            assert response.status_code in (400, 422) and "error" in response.json()
            continue
        texts = json.loads(body)["texts"]
        predictions = response.json()["predictions"]
        assert [p["text"] for p in predictions] == texts  # its own rows, in its order
        for p in predictions:
            same_record(p, alone[p["text"]])
    batches = float(next(line for line in metrics.splitlines() if line.startswith("seqtasks_batch_rows_count")).split()[-1])
    assert batches < 200  # 200 good requests shared forward passes
    assert 'seqtasks_requests_total{endpoint="predict",model="sst2",status="200"} 200.0' in metrics
    assert "process_resident_memory_bytes" in metrics and 'python_gc_collections_total{generation="2"}' in metrics


@pytest.mark.parametrize("body, status, message", [
    (b"x" * 2000, 413, "--max-body-bytes=1000"),
    (json.dumps({"texts": ["a"] * 9}).encode(), 413, "--max-texts=8"),
    (json.dumps({"texts": ["word " * 60]}).encode(), 422, "--max-chars=200"),
    (json.dumps({"texts": ["a b c " * 10]}).encode(), 422, "--max-tokens=20"),
    (b'{"texts": ["a", ', 400, "not valid JSON"),
    (b'["a"]', 422, "must be a JSON object"),
    (b'{"texts": "a film"}', 422, "texts: Input should be a valid array"),
    (b'{"texts": [3]}', 422, "texts.0: Input should be a valid string"),
    (b'{"texts": []}', 422, "no texts"),
    (b'{"texts": ["a"], "pairs": [["a", "b"]]}', 422, "exactly one of"),
    (b'{"texts": ["a"], "path": "/etc/passwd"}', 422, "path: Extra inputs are not permitted"),
    (b'{"pairs": [["a", "b"]]}', 422, 'takes "texts"'),
])
def test_every_limit_and_bad_payload_is_a_4xx_with_one_message(runs, body, status, message):
    limits = Limits(max_body_bytes=1000, max_texts=8, max_chars=200, max_tokens=20)
    with TestClient(app_for([runs["sst2"]], limits=limits), raise_server_exceptions=False) as client:
        response = client.post("/v1/models/sst2/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"] and "Traceback" not in response.text


def test_pair_models_want_two_texts_and_unknown_models_are_404(runs):
    with TestClient(app_for([runs["sick"]]), raise_server_exceptions=False) as client:
        one = client.post("/v1/models/sick/predict", json={"pairs": [["a man", "a dog"], ["only one"]]})
        texts = client.post("/v1/models/sick/predict", json={"texts": ["a man"]})
        unknown = client.post("/v1/models/gpt/predict", json={"texts": ["a"]})
        route = client.get("/v1/nothing")
        empty = client.post("/v1/models/sick/embed", json={"texts": ["a dog", ""]})
    assert (one.status_code, one.json()["error"]) == (422, "pairs[1] holds 1 text(s); a pair is two")
    assert texts.status_code == 422 and "send \"pairs\"" in texts.json()["error"]
    assert unknown.status_code == 404 and "no model 'gpt'; models: sick" in unknown.json()["error"]
    assert route.status_code == 404 and empty.status_code == 422


def test_keys_are_required_beyond_loopback_and_checked(runs, tmp_path, capsys):
    with pytest.raises(ConfigError, match="--api-key-file"):
        read_api_key(None, "0.0.0.0", no_auth=False)
    assert read_api_key(None, "0.0.0.0", no_auth=True) == "" and read_api_key(None, "::1", False) == ""
    assert main(["serve", str(runs["sst2"]), "--host", "0.0.0.0"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    short = tmp_path / "short.key"
    short.write_text("abc\n")
    with pytest.raises(ConfigError, match="at least 16"):
        read_api_key(str(short), "0.0.0.0", False)
    key = "k" * 32
    with TestClient(app_for([runs["sst2"]], key=key)) as client:
        assert client.get("/health").status_code == 200  # open, for load balancers
        assert client.get("/v1/models").status_code == 401
        wrong = client.post("/v1/models/sst2/predict", json={"texts": ["a"]}, headers={"Authorization": "Bearer nope"})
        right = client.post("/v1/models/sst2/predict", json={"texts": ["a"]}, headers={"Authorization": f"Bearer {key}"})
        assert client.get("/metrics").status_code == 401
    assert wrong.status_code == 401 and "API key" in wrong.json()["error"]
    assert right.status_code == 200 and right.json()["predictions"][0]["text"] == "a"


def test_json_only_cors_only_when_asked_and_the_schema_lists_the_model_routes(runs):
    models = load_models([str(runs["sst2"])], "torch", False, 1)
    with TestClient(build_app(models, Limits())) as client:
        form = client.post("/v1/models/sst2/predict", content=b'{"texts": ["a"]}',
                           headers={"content-type": "text/plain"})  # what a cross-site form may send
        chunked = client.post("/v1/models/sst2/predict", content=iter([b'{"texts": ', b'["a"]}']))
        plain = client.post("/v1/models/sst2/predict", json={"texts": ["a"]}, headers={"Origin": "https://x.test"})
        schema = client.get("/openapi.json").json()
    assert form.status_code == 415 and "application/json" in form.json()["error"]
    assert chunked.status_code == 200 and chunked.json()["predictions"][0]["text"] == "a"
    assert "access-control-allow-origin" not in plain.headers
    assert {"/v1/models/{name}/predict", "/v1/models/{name}/embed", "/v1/models/{name}/explain"} <= set(schema["paths"])
    body = schema["paths"]["/v1/models/{name}/predict"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/Texts")
    with TestClient(build_app(models, Limits(), cors_origins=("https://x.test",))) as client:
        allowed = client.post("/v1/models/sst2/predict", json={"texts": ["a"]}, headers={"Origin": "https://x.test"})
        preflight = client.options("/v1/models/sst2/predict", headers={
            "Origin": "https://x.test", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        other = client.post("/v1/models/sst2/predict", json={"texts": ["a"]}, headers={"Origin": "https://y.test"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://x.test"
    assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in other.headers


def test_sigterm_answers_every_request_in_flight_then_exits(runs, data_dir):
    """SIGTERM comes while requests of 64 long texts each are being computed (seconds of work on one
    thread), once all 32 were accepted: each gets its own answer, a request after it is refused, and
    the server exits 0."""
    rows = [row[0] for row in dev_rows(runs["sst2"], data_dir, "sst2", count=200)]
    long_rows = sorted(rows, key=lambda text: -len(text.split()))[:64]
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", "import sys; from seqtasks.cli import main; sys.exit(main())",
                                "serve", str(runs["sst2"]), "--port", str(port), "--threads", "1",
                                "--max-batch-tokens", "1000000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)

        def ask(k: int):
            texts = long_rows[k % 8:] + long_rows[:k % 8]  # each request its own order
            try:
                response = httpx.post(f"{url}/v1/models/sst2/predict", json={"texts": texts}, timeout=120)
            except httpx.TransportError as error:
                return "lost", repr(error)
            return response.status_code, [p["text"] for p in response.json()["predictions"]] == texts

        with ThreadPoolExecutor(max_workers=32) as pool:
            in_flight = [pool.submit(ask, k) for k in range(32)]
            deadline = time.monotonic() + 60
            while True:  # every request accepted (answered or in flight), and some still in flight
                waiting, answered = accepted(httpx.get(f"{url}/metrics").text)
                if waiting and waiting + answered == 32:
                    break
                assert time.monotonic() < deadline, f"only {waiting} + {answered} of 32 requests were accepted"
                time.sleep(0.01)
            process.send_signal(signal.SIGTERM)
            outcomes = [future.result() for future in in_flight]
        assert process.wait(60) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{url}/v1/models/sst2/predict", json={"texts": ["late"]}, timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
    assert outcomes == [(200, True)] * 32
    assert "Traceback" not in process.stderr.read()


def accepted(metrics: str) -> tuple[int, int]:
    """(requests in flight, requests answered 200) of the sst2 model, read off /metrics."""
    def value(prefix: str) -> int:
        return int(float(next((line.split()[-1] for line in metrics.splitlines() if line.startswith(prefix)), "0")))
    return (value('seqtasks_requests_in_flight{model="sst2"}'),
            value('seqtasks_requests_total{endpoint="predict",model="sst2",status="200"}'))


def browser_or_skip() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if os.environ.get("CI") and not chromium:
        pytest.fail("CI installs Debian's chromium for the browser test (.ci/run)")
    if not chromium:
        pytest.skip("no chromium on this machine (apt-get install chromium); CI runs this test")
    pytest.importorskip("playwright.sync_api", reason="the playwright package (pip install playwright) drives it")
    return chromium


def test_the_demo_page_in_a_real_browser_shows_the_apis_label(runs):
    chromium = browser_or_skip()
    from playwright.sync_api import sync_playwright
    text = "a gorgeous , witty , seductive movie"
    with ServerThread(app_for([runs["sst2"], runs["conll-ner"], runs["sick"]])) as url:
        label = httpx.post(f"{url}/v1/models/sst2/predict", json={"texts": [text]}).json()["predictions"][0]["label"]
        tags = httpx.post(f"{url}/v1/models/conll-ner/predict", json={"texts": ["John lives in Paris"]}).json()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            problems = []
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(url + "/")
            page.wait_for_selector("#model option[value='sst2']", state="attached")
            page.select_option("#model", "sst2")
            page.fill("#text", text)
            page.click("#go")
            page.wait_for_selector(".result .label")
            shown = page.inner_text(".result .label")
            shaded = page.locator(".result .token").count()
            page.select_option("#model", "conll-ner")
            page.fill("#text", "John lives in Paris")
            page.click("#go")
            page.wait_for_selector(".result .tokens")
            entities = page.locator(".result .entity").count()
            page.select_option("#model", "sick")
            page.fill("#text-a", "a man plays a guitar")
            page.fill("#text-b", "a man is playing music")
            page.click("#go")
            page.wait_for_selector(".result .label")
            similarity = page.inner_text(".result .label")
            browser.close()
    assert shown == label
    assert shaded == len(text.split())  # each word shaded by its attention weight
    assert entities == len(spans(tags["predictions"][0]["tags"]))
    assert similarity.startswith("similarity ")
    assert problems == []


def spans(tags: list[str]) -> list[tuple[int, int]]:
    """The page's grouping: a non-O tag opens a span; I-/E- tags of its type continue it."""
    found, i = [], 0
    while i < len(tags):
        if tags[i] == "O":
            i += 1
            continue
        kind, j = tags[i].split("-", 1)[-1], i + 1
        while j < len(tags) and tags[j][:2] in ("I-", "E-") and tags[j][2:] == kind:
            j += 1
        found.append((i, j))
        i = j
    return found


def test_the_bench_load_generator_counts_what_the_server_answered(runs, data_dir):
    import asyncio

    from seqtasks.experiments.serve_bench import load, run_clients
    texts = [row[0] for row in dev_rows(runs["sst2"], data_dir, "sst2", count=10)]
    with ServerThread(app_for([runs["sst2"]])) as url:
        result = run_clients(load(url, "sst2", texts, clients=4, requests=20, seconds=60))  # uvloop, as the bench
        missing = asyncio.run(load(url, "nope", texts, clients=2, requests=4, seconds=60))
        metrics = httpx.get(f"{url}/metrics").text
    assert result["requests"] == 20 and result["errors"] == 0
    assert result["tokens"] == 2 * sum(len(t.split()) for t in texts)  # 20 requests cycle twice through 10 texts
    assert result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"]
    assert missing["errors"] == 4
    assert 'seqtasks_requests_total{endpoint="predict",model="sst2",status="200"} 20.0' in metrics
