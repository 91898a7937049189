"""The Python API for what the command line does: train from a config (a recipe name, a TOML file,
a run's config.json or a dict) with overrides, then evaluate a file and predict texts.

    run = seqtasks.train("my_run.toml", **{"train.epochs": 5})
    run.evaluate("held_out.csv")      # the metrics, reading the file with the run's own columns
    run.predict(["a new ticket"])     # one record per text, as `seqtasks predict` writes them
"""
from __future__ import annotations

import copy
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from recipes import load_recipe
from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import RunConfig, apply_overrides, check_values, merge, read_config_file, to_dict
from seqtasks.core.errors import ConfigError
from seqtasks.engine.prepare import read_rows
from seqtasks.engine.run import LoadedRun, RunFolder, check_target, load_run, read_json, replacing
from seqtasks.engine.sweep import resumable
from seqtasks.tools.deploy import DeployedRun
from seqtasks.tools.predict import embed_texts, predict_lines


@dataclass
class Run:
    """A trained run folder, ready to score files and predict texts."""

    loaded: LoadedRun | DeployedRun

    @property
    def run_dir(self) -> Path:
        return self.loaded.run_dir

    @property
    def metrics(self) -> dict:
        return read_json(RunFolder(self.run_dir).metrics, "the run's results")

    def evaluate(self, path: str | Path, overrides: Iterable[str] = ()) -> dict:
        """Score a file in the training data's format; `overrides` (data.* keys) say otherwise, e.g.
        ["data.label=team"] when the held-out file names its label column differently."""
        return evaluate_file(self.loaded, str(path), list(overrides))[0]

    def predict(self, texts: Iterable[str]) -> list[dict]:
        """One record per text (pairs: "first<TAB>second"), as `seqtasks predict` writes them."""
        return list(predict_lines(self.loaded, texts))

    def embed(self, texts: Iterable[str]) -> torch.Tensor:
        """The sentence vectors [N, D] a pair task's head compares, one row per text."""
        return embed_texts(self.loaded, list(texts))


def evaluate_file(run: LoadedRun | DeployedRun, path: str, overrides: list[str]):
    """(metrics, encoded split, rows) of a file read with the run's data config plus data.* overrides."""
    config = run.config
    if overrides:
        bad = [o for o in overrides if not o.startswith("data.")]
        if bad:
            raise ConfigError(f"evaluate takes only data.* overrides, got {bad}")
        config = apply_overrides(copy.deepcopy(config), overrides)
        check_values(config)
    rows, _ = read_rows(config, path)
    split = run.task.encode(rows, run.vocab, run.labels, path, config.data.max_tokens, config.encoder.chars)
    return run.task.score(run.model, split, run.labels.labels), split, rows


def resolve_config(recipe: str | None, config: str | Path | dict | None, overrides: list[str]
                   ) -> tuple[ModuleType, RunConfig]:
    """The recipe module and its config: the recipe's defaults, then the file or dict, then overrides."""
    data: dict = {}
    if isinstance(config, dict):
        data = dict(config)
    elif config is not None:
        data = read_config_file(config)
    name = recipe or data.get("recipe")
    if not name:
        raise ConfigError("name a recipe: seqtasks train RECIPE, or recipe = \"...\" in the config file")
    module = load_recipe(name)
    merged = merge(module.Config(), {k: v for k, v in data.items() if k != "recipe"}, where=str(config or "config"))
    resolved = apply_overrides(merged, overrides)
    check_values(resolved)
    return module, resolved


def train(config: str | Path | dict | None = None, recipe: str | None = None, out: str | Path | None = None,
          overwrite: bool = False, **overrides: Any) -> Run | dict:
    """Train and return the Run (a cross-validated or multi-task recipe returns its metrics record: it
    has no single model; seqtasks.load_run(RUN, task=NAME) loads one task's). `config`: a recipe name, a TOML/JSON file or a dict; overrides as {"train.epochs": 5}."""
    if isinstance(config, str) and not Path(config).suffix and recipe is None:
        config, recipe = None, config  # a bare recipe name
    module, run_config = resolve_config(recipe, config, [f"{k}={v}" for k, v in overrides.items()])
    run_dir = Path(out or Path("runs") / run_config.recipe)
    record = train_into(module, run_config, run_dir, overwrite)
    folder = RunFolder(run_dir)
    single = folder.best.is_file() and not folder.task_names()
    return Run(load_run(run_dir)) if single else record


def train_into(module: ModuleType, config: RunConfig, run_dir: Path, overwrite: bool = False,
               seeds: list[int] | None = None, main_process: bool = True) -> dict:
    """A new run (or a seed sweep) into run_dir; with overwrite, the run there is replaced only once the
    new one has finished (seqtasks/engine/run.py, replacing)."""
    check_target(run_dir, resume=False, overwrite=overwrite)
    with replacing(run_dir, overwrite, main_process) as target:
        if seeds:
            return train_seeds(module, config, target, seeds)
        return module.main(config, target)


def train_seeds(module: ModuleType, config: RunConfig, run_dir: Path, seeds: list[int], resume: bool = False) -> dict:
    """One run per seed in run_dir/seed-N, then the mean ± std over seeds of every dev metric (for a
    cross-validated recipe, of its fold means) in run_dir/seeds.json: a README row is a 3-seed number."""
    folder = RunFolder(run_dir)
    write_json(folder.config, to_dict(config))  # first, so an interrupted sweep can be resumed
    records = []
    for seed in seeds:
        seeded = copy.deepcopy(config)
        seeded.train.seed = seed
        out = folder.seed(seed)

        def produce(seeded=seeded, out=out) -> dict:
            print(f"{config.recipe}: seed {seeded.train.seed}")
            return module.main(seeded, out.path, resume=resume and out.holds_run())

        records.append(resumable(out.metrics, resume, produce))
    summary = seed_summary(records)
    write_json(run_dir / "seeds.json", {"recipe": config.recipe, "seeds": seeds, "summary": summary,
                                        "runs": [str(folder.seed(seed).path) for seed in seeds]})
    return {"seeds": seeds, "summary": summary}


def seed_summary(records: list[dict]) -> dict[str, dict[str, float]]:
    """{metric: {"mean", "std", "values"}} over the runs' dev metrics (or their CV fold means)."""
    headlines = [record.get("cv") or record["dev"] for record in records]
    summary = {}
    for key, value in headlines[0].items():
        if isinstance(value, float) and not key.endswith("_std"):
            values = [headline[key] for headline in headlines]
            summary[key.removesuffix("_mean")] = {"mean": statistics.mean(values), "values": values,
                                                  "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return summary
