"""The Python API for what the command line does: train from a config (a recipe name, a TOML file,
a run's config.json or a dict) with overrides, then evaluate a file and predict texts.

    run = seqtasks.train("my_run.toml", **{"train.epochs": 5})
    run.evaluate("held_out.csv")      # the metrics, reading the file with the run's own columns
    run.predict(["a new ticket"])     # one record per text, as `seqtasks predict` writes them
"""
from __future__ import annotations

import copy
import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from recipes import load_recipe
from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import RunConfig, apply_overrides, merge, read_config_file, to_dict
from seqtasks.core.errors import ConfigError, RunFolderError
from seqtasks.engine.pipeline import read_rows
from seqtasks.engine.run import LoadedRun, load_run, task_names
from seqtasks.engine.sweep import resumable
from seqtasks.tools.predict import embed_texts, predict_lines


@dataclass
class Run:
    """A trained run folder, ready to score files and predict texts."""

    loaded: LoadedRun

    @property
    def run_dir(self) -> Path:
        return self.loaded.run_dir

    @property
    def metrics(self) -> dict:
        return json.loads((self.run_dir / "metrics.json").read_text())

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


def evaluate_file(run: LoadedRun, path: str, overrides: list[str]):
    """(metrics, encoded split, rows) of a file read with the run's data config plus data.* overrides."""
    config = run.config
    if overrides:
        bad = [o for o in overrides if not o.startswith("data.")]
        if bad:
            raise ConfigError(f"evaluate takes only data.* overrides, got {bad}")
        config = apply_overrides(copy.deepcopy(config), overrides)
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
    return module, apply_overrides(merged, overrides)


def prepare_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        if not (run_dir / "config.json").is_file():
            raise RunFolderError(f"--resume: {run_dir} holds no run to continue")
        return
    if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        raise RunFolderError(f"{run_dir} already holds a run; continue it with --resume, "
                             f"choose another folder with --out, or replace it with --overwrite")


def train(config: str | Path | dict | None = None, recipe: str | None = None, out: str | Path | None = None,
          overwrite: bool = False, **overrides: Any) -> Run | dict:
    """Train and return the Run (a cross-validated or multi-task recipe returns its metrics record: it
    has no single model; seqtasks.load_run(RUN, task=NAME) loads one task's). `config`: a recipe name, a TOML/JSON file or a dict; overrides as {"train.epochs": 5}."""
    if isinstance(config, str) and not Path(config).suffix and recipe is None:
        config, recipe = None, config  # a bare recipe name
    module, run_config = resolve_config(recipe, config, [f"{k}={v}" for k, v in overrides.items()])
    run_dir = Path(out or Path("runs") / run_config.recipe)
    prepare_run_dir(run_dir, False, overwrite)
    record = module.main(run_config, run_dir)
    single = (run_dir / "best.safetensors").is_file() and not task_names(run_dir)
    return Run(load_run(run_dir)) if single else record


def train_seeds(module: ModuleType, config: RunConfig, run_dir: Path, seeds: list[int], resume: bool = False) -> dict:
    """One run per seed in run_dir/seed-N, then the mean ± std over seeds of every dev metric (for a
    cross-validated recipe, of its fold means) in run_dir/seeds.json: a README row is a 3-seed number."""
    write_json(run_dir / "config.json", to_dict(config))  # first, so an interrupted sweep can be resumed
    records = []
    for seed in seeds:
        seeded = copy.deepcopy(config)
        seeded.train.seed = seed
        out = run_dir / f"seed-{seed}"

        def produce(seeded=seeded, out=out) -> dict:
            print(f"{config.recipe}: seed {seeded.train.seed}")
            return module.main(seeded, out, resume=resume and (out / "config.json").is_file())

        records.append(resumable(out / "metrics.json", resume, produce))
    summary = seed_summary(records)
    write_json(run_dir / "seeds.json", {"recipe": config.recipe, "seeds": seeds, "summary": summary,
                                        "runs": [str(run_dir / f"seed-{seed}") for seed in seeds]})
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
