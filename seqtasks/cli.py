"""`seqtasks` command line: recipes, train, evaluate, predict, explain, export, bench."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from recipes import RECIPES, load_recipe
from seqtasks.api import evaluate_file, resolve_config, train_into, train_seeds
from seqtasks.core.checkpoint import strict_json, write_json
from seqtasks.core.config import ConfigError, MultiTaskConfig, RunConfig
from seqtasks.core.errors import SeqtasksError
from seqtasks.data.files import decode_line
from seqtasks.data.resolve import file_sha256
from seqtasks.engine.distributed import leave_process_group, resolve_device
from seqtasks.engine.run import RunFolder, check_target, load_run
from seqtasks.engine.sweep import split_list
from seqtasks.experiments.bench import run_bench, table
from seqtasks.experiments.data_bench import data_table, run_data_bench
from seqtasks.experiments.ddp_bench import ddp_table, run_ddp_bench
from seqtasks.experiments.deploy_bench import deploy_table, run_deploy_bench
from seqtasks.experiments.lm_bench import lm_table, run_lm_bench
from seqtasks.experiments.serve_bench import run_serve_bench, serve_table
from seqtasks.tools.deploy import export_run, load_deployed
from seqtasks.tools.diagnostics import diagnose, summary_lines, write_diagnosis
from seqtasks.tools.explain import (
    explain_text,
    heatmap,
    weight_lines,
    worst_examples,
    write_html,
)
from seqtasks.tools.predict import predict_lines, write_csv_predictions
from seqtasks.tools.serve import Limits, serve
from seqtasks.tune import TuneSettings, report_lines, tune


def cmd_recipes(args) -> None:
    rows = []
    for name in RECIPES:
        module = load_recipe(name)
        config = module.Config()
        dataset = getattr(module, "DATASET", None) or config.data.dataset or "your file (data.train)"
        task = getattr(module, "TASK", None) or config.task
        rows.append((name, dataset, task, module.DESCRIPTION))
    widths = [max(len(r[i]) for r in rows + [("recipe", "dataset", "task", "")]) for i in range(3)]
    print(f"{'recipe':<{widths[0]}}  {'dataset':<{widths[1]}}  {'task':<{widths[2]}}  description")
    for row in rows:
        print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}")


def cmd_train(args) -> None:
    main_process = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 speaks for the run
    if not main_process:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    seeds = parse_seeds(args.seeds) if args.seeds else []
    if args.resume:
        if args.set or args.config:
            raise ConfigError("--resume continues the saved config.json; it takes no --set or --config")
        if not (args.recipe or args.out):
            raise ConfigError("--resume: name the recipe or the run folder (--out)")
        run_dir = Path(args.out or Path("runs") / args.recipe)
        check_target(run_dir, resume=True, overwrite=False)
        module, config = resolve_config(None, RunFolder(run_dir).config, [])
    else:
        if not (args.recipe or args.config):
            raise ConfigError("name a recipe (seqtasks recipes lists them) or a config file with --config")
        module, config = resolve_config(args.recipe, args.config, args.set)
        run_dir = Path(args.out or Path("runs") / config.recipe)
        if main_process:  # rank 0 alone owns the folder
            check_target(run_dir, resume=False, overwrite=args.overwrite)
    trains = isinstance(config, RunConfig | MultiTaskConfig)  # the sweeps (long-range, compare-pooling) set their own
    if trains:
        config.train.device = args.device if args.device is not None else config.train.device
        config.train.amp = args.amp if args.amp is not None else config.train.amp
        print(f"device: {resolve_device(config.train.device)}{', ' + config.train.amp if config.train.amp else ''}")
    if seeds and not trains:
        raise ConfigError(f"--seeds trains a recipe once per seed; {config.recipe} sets its own seeds")
    if args.resume:
        record = (train_seeds(module, config, run_dir, seeds, resume=True) if seeds
                  else module.main(config, run_dir, resume=True))
    else:
        record = train_into(module, config, run_dir, args.overwrite, seeds, main_process)
    if not main_process:
        return
    if seeds:
        shown = ", ".join(f"{k} {v['mean']:.4f} ± {v['std']:.4f}" for k, v in record["summary"].items())
        print(f"{config.recipe} over seeds {args.seeds}: {shown} -> {run_dir / 'seeds.json'}")
        return
    headline = record.get("cv") or record.get("dev") or {}
    shown = {k: round(v, 4) for k, v in headline.items() if isinstance(v, float)}
    print(f"{config.recipe}: {shown or 'done'} -> {RunFolder(run_dir).metrics}")


def cmd_tune(args) -> None:
    if not (args.recipe or args.config):
        raise ConfigError("name a recipe (seqtasks recipes lists them) or a config file with --config")
    settings = TuneSettings(recipe=args.recipe, config_file=args.config, overrides=args.set, space=args.space,
                            default_space=not args.no_default_space, trials=args.trials,
                            timeout_s=parse_duration(args.timeout) if args.timeout else 0.0, out=args.out or "",
                            resume=args.resume, storage=args.storage or "", study=args.study, workers=args.workers,
                            confirm=args.confirm, confirm_seeds=parse_seeds(args.confirm_seeds), pruner=args.pruner,
                            keep_pruned=args.keep_pruned, cv_folds=args.cv_folds, seed=args.seed)
    summary = tune(settings)
    out = Path(settings.out or Path("runs") / f"tune-{summary['recipe']}")
    print("\n".join(report_lines(summary, out)))


def cmd_serve(args) -> None:
    limits = Limits(max_body_bytes=args.max_body_bytes, max_texts=args.max_texts, max_chars=args.max_chars,
                    max_tokens=args.max_tokens, max_batch_tokens=args.max_batch_tokens, max_wait_ms=args.max_wait_ms)
    serve(args.runs, backend=args.backend, int8=args.int8, host=args.host, port=args.port,
          api_key_file=args.api_key_file, no_auth=args.no_auth, limits=limits, threads=args.threads,
          cors_origins=tuple(args.cors_origin))


def parse_duration(text: str) -> float:
    """"2h", "30m", "90s" or a number of seconds -> seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        seconds = -1
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(f"--timeout {text!r}: expected a duration such as 2h, 30m or 600s")
    return seconds


def parse_seeds(text: str) -> list[int]:
    try:
        return [int(seed) for seed in split_list(text)]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected whole numbers separated by commas, e.g. 13,14,15") from None


def load_backend(args):
    """The run under the backend the command names: the torch model on --device, or its exported graph;
    on --threads threads."""
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise ConfigError(f"--threads {threads}: expected at least 1")
    if threads:
        torch.set_num_threads(threads)
    if getattr(args, "backend", "torch") == "onnx":
        return load_deployed(args.run, int8=args.int8, threads=getattr(args, "threads", 0), task=args.task)
    if getattr(args, "int8", False):
        raise ConfigError("--int8 is a choice of exported graph: use it with --backend onnx")
    return load_run(args.run, map_location=str(resolve_device(args.device)), task=args.task)


def load_run_and_file(args, overrides: list[str] | None = None):
    """A trained run, and a file read as its training data was (data.* overrides aside): metrics, split, rows."""
    run = load_backend(args)
    return (run, *evaluate_file(run, str(args.data), overrides or []))


def cmd_evaluate(args) -> None:
    if args.json and Path(args.json).is_dir():
        raise ConfigError(f"--json {args.json}: a folder; name the file the metrics go to, e.g. {args.json}/eval.json")
    run, metrics, split, rows = load_run_and_file(args, args.set)
    if args.explain:
        if args.backend != "torch":
            raise ConfigError("--explain reads the torch model's attention: drop --backend onnx")
        page = Path(args.explain_out or Path(args.run) / "explain.html")
        write_html(run, rows, worst_examples(run, rows, split, args.explain), page)
        print(f"{args.explain} examples with the largest loss -> {page}")
    print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()))
    if args.json:
        write_json(args.json, {**metrics, "run": str(args.run), "data": str(args.data),
                               "data_sha256": file_sha256(Path(args.data))})


def cmd_diagnose(args) -> None:
    run, _, split, _ = load_run_and_file(args)
    flows, gates = diagnose(run.model, split, examples=args.examples)
    out_dir = Path(args.out or Path(args.run) / "diagnostics")
    meta = {"run": str(args.run), "data": str(args.data), "examples": min(args.examples, len(split)),
            "cell": run.config.encoder.cell, "title": f"{run.config.recipe} ({run.config.encoder.cell})"}
    write_diagnosis(out_dir, flows, gates, meta)
    print("\n".join(summary_lines(flows, gates)))
    print(f"-> {out_dir}/diagnostics.json, gradient_flow.png, gates.png")


def cmd_predict(args) -> None:
    if args.batch_size < 1:
        raise ConfigError(f"--batch-size {args.batch_size}: expected at least 1")
    run = load_backend(args)
    lines = (decode_line(raw) for raw in sys.stdin.buffer)  # any bytes in, valid UTF-8 JSON out
    if args.format == "csv":
        write_csv_predictions(run, lines, sys.stdout, args.batch_size)
        return
    for record in predict_lines(run, lines, args.batch_size):
        print(strict_json(record, ensure_ascii=False), flush=False)
    sys.stdout.flush()


def cmd_explain(args) -> None:
    explanation = explain_text(load_backend(args), args.text)
    print("\n".join(weight_lines(explanation)))
    if args.png:
        heatmap(explanation, Path(args.png))
        print(f"-> {args.png}")


def cmd_export(args) -> None:
    manifest = export_run(args.run, int8=args.int8, task=args.task)
    folder = RunFolder(Path(args.run)).task(args.task).path
    for kind, record in manifest["files"].items():
        print(f"{kind}: {folder / record['file']} ({record['bytes'] / 1e6:.1f} MB)")
    print(f"checked against the torch model: max |difference| {manifest['check_max_abs_difference']:.1e}; "
          f"outputs: {', '.join(manifest['outputs'])} -> {folder / 'export.json'}")


def cmd_bench(args) -> None:
    def log(line: str) -> None:
        print(line, file=sys.stderr)

    if args.ddp:
        result = run_ddp_bench(load_recipe(args.recipe).Config(), args.set, args.ddp)
        print(ddp_table(result))
        if args.json:
            write_json(args.json, result)
        return
    if args.lm:
        result = run_lm_bench(load_recipe("language-model").Config(), args.set, *((8, 2) if args.quick else (40, 9)),
                              log=log)
        print(lm_table(result))
        if args.json:
            write_json(args.json, result)
        return
    if args.serve:
        result = run_serve_bench(args.serve, quick=args.quick, log=log)
        print(serve_table(result))
        if args.json:
            write_json(args.json, result)
        return
    if args.onnx:
        result = run_deploy_bench(args.onnx, log)
        print(deploy_table(result))
        if args.json:
            write_json(args.json, result)
        return
    if args.data:
        result = run_data_bench(args.rows, Path(args.data_dir), log)
        print(data_table(result))
        if args.json:
            write_json(args.json, result)
        return
    results = run_bench(load_recipe(args.recipe).Config(), args.set, quick=args.quick, device=args.device,
                        amp=args.amp, log=log)
    print(table(results))
    if args.json:
        write_json(args.json, results)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqtasks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("recipes", help="list recipes with their dataset, head and description")

    train = commands.add_parser("train", help="train a recipe into a run folder")
    train.add_argument("recipe", nargs="?", help="a recipe (seqtasks recipes); optional with --config")
    train.add_argument("--config", help="a TOML file with any part of the config, or a run's config.json")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config field, e.g. --set train.lr=1e-3 (repeatable)")
    train.add_argument("--out", help="run folder (default runs/RECIPE)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in its folder")
    train.add_argument("--overwrite", action="store_true", help="train into a folder that already holds a run")
    train.add_argument("--seeds", help="train once per seed (e.g. 13,14,15) into RUN/seed-N and write the mean ± std "
                                       "of every dev metric to RUN/seeds.json")
    train.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when available, else cpu)")
    train.add_argument("--amp", choices=["bf16", "fp16"], help="mixed precision on GPU (fp16 with a gradient scaler)")

    tune = commands.add_parser("tune", help="search a recipe's settings with Optuna, pruned on dev, confirmed over seeds")
    tune.add_argument("recipe", nargs="?", help="a recipe (seqtasks recipes); optional with --config")
    tune.add_argument("--config", help="a TOML file with any part of the config, and a [space] table")
    tune.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="fix a config field for every trial, e.g. --set data.train=my.csv (repeatable)")
    tune.add_argument("--space", action="append", default=[], metavar="KEY=SPEC",
                      help="search a field: log:LOW:HIGH, float:LOW:HIGH, int:LOW:HIGH or cat:A,B,C, e.g. "
                           "--space train.lr=log:1e-4:1e-2; replaces the default space's entry for KEY (repeatable)")
    tune.add_argument("--no-default-space", action="store_true",
                      help="search only the --space fields, not the task's default space")
    tune.add_argument("--trials", type=int, default=20, help="finished trials the study ends with (default 20)")
    tune.add_argument("--timeout", help="stop starting trials after this long, e.g. 2h, 45m (the running one finishes)")
    tune.add_argument("--out", help="the tune folder (default runs/tune-RECIPE)")
    tune.add_argument("--resume", action="store_true", help="continue the study in --out after an interruption")
    tune.add_argument("--storage", help="an Optuna RDB URL (sqlite:///study.db, postgresql://...) shared by "
                                        "processes on several machines; default: a journal file in --out")
    tune.add_argument("--study", default="seqtasks", help="the study's name in --storage")
    tune.add_argument("--workers", type=int, default=1, help="local processes working on the study (default 1)")
    tune.add_argument("--confirm", type=int, default=3, metavar="N",
                      help="re-train the N best trials over --confirm-seeds and choose by the mean (0: no)")
    tune.add_argument("--confirm-seeds", default="13,14,15")
    tune.add_argument("--pruner", default="median", choices=["median", "halving", "none"],
                      help="stop trials whose dev curve lags: Optuna's median or successive-halving pruner")
    tune.add_argument("--keep-pruned", action="store_true", help="keep pruned trials' run folders")
    tune.add_argument("--cv-folds", type=int, default=3,
                      help="cross-validated recipes: trials run this many folds, a cheaper proxy (default 3)")
    tune.add_argument("--seed", type=int, default=13, help="the sampler's seed")

    serve = commands.add_parser("serve", help="trained runs behind an HTTP API with dynamic batching and a demo page")
    serve.add_argument("runs", nargs="+", metavar="RUN", help="run folders, or NAME=RUN to name one")
    serve.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    serve.add_argument("--int8", action="store_true", help="with --backend onnx: the int8 graph")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--api-key-file", help="a file holding the key requests must send as 'Authorization: Bearer KEY'")
    serve.add_argument("--no-auth", action="store_true", help="listen beyond loopback without a key")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="let pages from ORIGIN call the API (default: no CORS)")
    serve.add_argument("--max-batch-tokens", type=int, default=8192,
                       help="tokens gathered into one forward pass (1: no batching across requests)")
    serve.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for others to join it")
    serve.add_argument("--max-body-bytes", type=int, default=1 << 20)
    serve.add_argument("--max-texts", type=int, default=256, help="texts (or pairs) per request")
    serve.add_argument("--max-chars", type=int, default=10_000, help="characters per text")
    serve.add_argument("--max-tokens", type=int, default=512, help="tokens per text")
    serve.add_argument("--threads", type=int, default=default_threads(), help="CPU threads for the models")

    evaluate = commands.add_parser("evaluate", help="score a trained run on a file in the dataset's format")
    evaluate.add_argument("run")
    evaluate.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: cuda when available)")
    evaluate.add_argument("--data", required=True, help="file in the dataset's own format")
    evaluate.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE",
                          help="read the file differently from the training data, e.g. --set data.label=team")
    evaluate.add_argument("--json", help="write the metrics as one JSON object here")
    evaluate.add_argument("--explain", type=int, default=0, metavar="N",
                          help="attention runs: write an HTML page of the N examples with the largest loss")
    evaluate.add_argument("--explain-out", help="where the --explain page goes (default RUN/explain.html)")

    diagnose = commands.add_parser("diagnose", help="gradient flow through time and gate statistics of a run")
    diagnose.add_argument("run")
    diagnose.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: cuda when available)")
    diagnose.add_argument("--data", required=True, help="file in the dataset's own format")
    diagnose.add_argument("--examples", type=int, default=128, help="rows probed (one batch)")
    diagnose.add_argument("--out", help="output folder (default RUN/diagnostics)")

    predict = commands.add_parser("predict", help="text lines on stdin (pairs: tab-separated) -> one JSON line each")
    predict.add_argument("run")
    predict.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: cuda when available)")
    predict.add_argument("--batch-size", type=int, default=256)
    predict.add_argument("--format", default="lines", choices=["lines", "csv"],
                         help="lines: one text per line (pairs tab-separated), JSON lines out; csv: a CSV with the "
                              "run's text columns in, the same CSV with prediction columns added out")

    for command in (evaluate, predict):
        command.add_argument("--backend", default="torch", choices=["torch", "onnx"],
                             help="onnx: the graph `seqtasks export` wrote, under onnxruntime (CPU)")
        command.add_argument("--int8", action="store_true", help="with --backend onnx: the int8 graph")

    export = commands.add_parser("export", help="write a run as an ONNX graph (and an int8 one) any runtime can load")
    export.add_argument("run")
    export.add_argument("--format", default="onnx", choices=["onnx"])
    export.add_argument("--int8", action="store_true", help="also write model.int8.onnx (dynamic int8 quantization)")
    export.add_argument("--task", default="", help="a multi-task run: the task to export (into RUN/tasks/TASK/)")

    explain = commands.add_parser("explain", help="each token of a text with its attention weight")
    explain.add_argument("run")
    explain.add_argument("--device", default="", help="cpu, cuda or cuda:N (default: cuda when available)")
    explain.add_argument("text")
    explain.add_argument("--png", help="also write a heatmap of the weights here")
    for command in (evaluate, diagnose, predict, explain):
        command.add_argument("--task", default="", help="a multi-task run: which task's head to use")
        command.add_argument("--threads", type=int, default=default_threads(),
                             help=f"CPU threads for the model (default {default_threads()}: half the cores this "
                                  f"process may use, so a busy machine is not oversubscribed)")

    bench = commands.add_parser("bench", help="training and inference speed against a hand-written nn.LSTM loop")
    bench.add_argument("recipe", nargs="?", default="ud-pos", help="whose training file to measure (default ud-pos)")
    bench.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override the benchmark's model shape, e.g. --set encoder.hidden_size=128")
    bench.add_argument("--quick", action="store_true", help="a smoke run of under a minute")
    bench.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    bench.add_argument("--amp", default="", choices=["", "bf16", "fp16"], help="autocast dtype (cuda)")
    bench.add_argument("--json", help="write every measurement as one JSON object here")
    bench.add_argument("--data", action="store_true",
                       help="instead: read, count and encode a generated CSV of --rows rows (your-own-data speed)")
    bench.add_argument("--ddp", type=int, default=0, metavar="N",
                       help="instead: training tokens/s of N gloo processes (torchrun) against 1, and the all-reduce share")
    bench.add_argument("--onnx", nargs="+", metavar="RUN",
                       help="instead: predict speed, file size and dev metric of trained runs under torch, "
                            "onnxruntime fp32 and int8, at batch 1 and 256 (exports them first if needed)")
    bench.add_argument("--serve", nargs="+", metavar="RUN",
                       help="instead: `seqtasks serve` under 1, 8 and 64 concurrent loopback clients, batching on and "
                            "off, torch and onnxruntime int8: requests/s, tokens/s, p50/p95/p99 latency")
    bench.add_argument("--lm", action="store_true",
                       help="instead: language-model training tokens/s against a hand-written biLM loop with the same "
                            "adaptive softmax, and the softmax's share of a step")
    bench.add_argument("--rows", type=int, default=1_000_000, help="rows of the --data CSV")
    bench.add_argument("--data-dir", default="runs/bench-data", help="where the --data CSV is written (kept)")
    return parser


def default_threads() -> int:
    """Half the cores this process may run on, at least 1: predict's batches are small, and on a machine
    with other work torch's default of every core ran predict 12-39x slower than one thread."""
    return max(1, len(os.sched_getaffinity(0)) // 2) if hasattr(os, "sched_getaffinity") else 1


COMMANDS = {"recipes": cmd_recipes, "train": cmd_train, "tune": cmd_tune, "serve": cmd_serve, "evaluate": cmd_evaluate, "diagnose": cmd_diagnose,
            "predict": cmd_predict, "explain": cmd_explain, "export": cmd_export, "bench": cmd_bench}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
        leave_process_group()
    except BrokenPipeError:  # `seqtasks predict ... | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0
    except SeqtasksError as error:  # the user's to fix: one line; anything else is a bug and keeps its traceback
        print(f"seqtasks {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def recipe_entry(name: str) -> None:
    """`python -m recipes.NAME [--set ...]` is `seqtasks train NAME [--set ...]`."""
    sys.exit(main(["train", name, *sys.argv[1:]]))
