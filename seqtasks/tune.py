"""`seqtasks tune`: an Optuna study over a recipe's config, each trial a real training run scored on the
recipe's own dev selection metric, pruned on its learning curve, kept in a journal file so a killed
study resumes and several processes (or machines, through --storage) share one.

    OUT/tune.json       what was searched: recipe, overrides, space, trials asked, direction
    OUT/study.journal   the Optuna study (unless --storage names another)
    OUT/trials/NNNN/    each finished trial's run folder (a pruned one's is removed unless --keep-pruned)
    OUT/trials/NNNN.log what the trial's training printed
    OUT/confirm/NNNN/   the top trials re-trained per seed (--confirm)
    OUT/trials.csv  OUT/best.toml  OUT/summary.json  OUT/*.png

`seqtasks train --config OUT/best.toml` trains the chosen config again. Optuna is an optional extra
(`seqtasks[tune]`); nothing else in the toolkit imports it.
"""
from __future__ import annotations

import contextlib
import copy
import math
import multiprocessing
import os
import shutil
import socket
import statistics
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from tqdm import tqdm

from seqtasks.api import resolve_config
from seqtasks.core.checkpoint import atomic_write, strict_json, write_json
from seqtasks.core.config import MultiTaskConfig, RunConfig, apply_overrides, check_values, read_config_file, to_dict
from seqtasks.core.errors import ConfigError, RunFolderError, SeqtasksError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.core.space import Dimension, override_text, parse_space, space_items
from seqtasks.engine.loggers import listening
from seqtasks.engine.prepare import ARCHITECTURE, Member, prepare_data, read_split
from seqtasks.engine.run import RunFolder, read_json
from seqtasks.engine.sweep import resumable
from seqtasks.engine.training import DivergedError
from seqtasks.tasks import get_task

STEPS_PER_RUN = 1000  # a trial's k-th training run (a CV fold) reports epoch e as step k * 1000 + e
FAILURES_IN_A_ROW = 3  # a study whose trials keep failing stops and shows why


@dataclass
class TuneSettings:
    """Everything `seqtasks tune` was asked, as the worker processes receive it."""

    recipe: str | None = None
    config_file: str | None = None
    overrides: list[str] = field(default_factory=list)
    space: list[str] = field(default_factory=list)
    default_space: bool = True
    trials: int = 20
    timeout_s: float = 0.0  # 0: no time limit
    out: str = ""
    resume: bool = False
    storage: str = ""  # "" = a journal file in OUT
    study: str = "seqtasks"
    workers: int = 1
    confirm: int = 3  # re-train this many of the best trials per confirm seed (0: trust the single run)
    confirm_seeds: list[int] = field(default_factory=lambda: [13, 14, 15])
    pruner: str = "median"  # median, halving or none
    keep_pruned: bool = False
    cv_folds: int = 3  # cross-validated recipes: trials run this many folds (a proxy of the recipe's)
    seed: int = 13  # the sampler's


@dataclass
class Search:
    """The resolved study: the recipe, the base config every trial starts from, and what varies."""

    module: ModuleType
    base: RunConfig | MultiTaskConfig
    recipe_folds: int  # the recipe's data.folds (0 when not cross-validated); trials may run fewer
    space: dict[str, Dimension]
    minimize: bool
    out: Path


def optuna_module():
    try:
        import optuna  # optional: the tune extra
    except ImportError:
        raise SeqtasksError("seqtasks tune needs Optuna: pip install 'seqtasks[tune]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


# what a run started from a trained encoder takes from it (seqtasks/engine/prepare.py, adopt_shape)
INIT_FIXES = {*(f"encoder.{key}" for key in ARCHITECTURE), "data.lowercase"}


def resolve_search(settings: TuneSettings) -> Search:
    """The recipe, config and space, all checked: nothing is written before this returns."""
    data: dict = {}
    space_from_file: list[str] = []
    if settings.config_file:
        data = read_config_file(settings.config_file)
        space_from_file = space_items(data.pop("space", {}), settings.config_file)
    module, base = resolve_config(settings.recipe, data or None, settings.overrides)
    if not isinstance(base, RunConfig | MultiTaskConfig):
        raise ConfigError(f"{base.recipe} runs a sweep of its own; tune a recipe that trains one model")
    if settings.trials < 1:
        raise ConfigError(f"--trials {settings.trials}: expected at least 1")
    if settings.workers < 1:
        raise ConfigError(f"--workers {settings.workers}: expected at least 1")
    if settings.confirm < 0 or (settings.confirm and not settings.confirm_seeds):
        raise ConfigError("--confirm N re-trains the N best trials over --confirm-seeds; expected N >= 0")
    if settings.pruner not in ("median", "halving", "none"):
        raise ConfigError(f"--pruner {settings.pruner!r}: expected median, halving or none")
    recipe_folds = base.data.folds if isinstance(base, RunConfig) else 0
    if recipe_folds:
        if not 2 <= settings.cv_folds <= recipe_folds:
            raise ConfigError(f"--cv-folds {settings.cv_folds}: expected 2 to the recipe's {recipe_folds}")
        base.data.folds = settings.cv_folds
    if isinstance(base, RunConfig):
        task = get_task(base.task)
        defaults, minimize = task.search_space(base.head), task.lower_is_better
    else:  # a multi-task run: the shared encoder's and the training loop's keys
        defaults, minimize = [item for item in get_task("text-classification").default_space
                              if item.startswith(("encoder.", "train."))], False
    given = parse_space(space_from_file + settings.space, base)
    if isinstance(base, RunConfig) and base.encoder.init:
        defaults = [item for item in defaults if item.split("=")[0] not in INIT_FIXES]
        fixed = [key for key in given if key in INIT_FIXES]
        if fixed:
            raise ConfigError(f"--space {fixed[0]}: encoder.init={base.encoder.init} fixes the encoder's shape and case; "
                              f"search it from scratch with --set encoder.init=")
    space = parse_space((defaults if settings.default_space else []) + space_from_file + settings.space, base)
    if not space:
        raise ConfigError("the search space is empty: give --space KEY=SPEC, or drop --no-default-space")
    out = Path(settings.out or Path("runs") / f"tune-{base.recipe}")
    return Search(module, base, recipe_folds, space, minimize, out)


def check_data(base) -> None:
    """Read and encode a single-task recipe's data once before the study's folder exists: a missing
    file or a bad row is then one line, not the same failure in every trial."""
    if not isinstance(base, RunConfig):
        return  # a multi-task recipe builds its members itself; its first trial reports a bad one
    if base.data.folds:
        read_split(base, base.data.train)
    else:
        prepare_data([Member("", base)], base.encoder)


def trial_config(search: Search, params: dict[str, Any]):
    """The base config with a trial's values, as `--set` would give them."""
    config = apply_overrides(copy.deepcopy(search.base),
                             [f"{key}={override_text(value)}" for key, value in params.items()])
    check_values(config)
    return config


def recipe_config(search: Search, params: dict[str, Any]):
    """A trial's values on the recipe's own data: a cross-validated recipe's trials run on fewer folds
    (the proxy), while confirmation and best.toml use all of its folds."""
    config = trial_config(search, params)
    if search.recipe_folds:
        config.data.folds = search.recipe_folds
    return config


class TrialReporter:
    """Sends each epoch's dev metric to the trial and stops a hopeless one (optuna.TrialPruned)."""

    def __init__(self, trial, run_index: int, metric: str) -> None:
        self.trial, self.offset, self.metric = trial, run_index * STEPS_PER_RUN, metric

    def epoch(self, record: dict) -> None:
        value = record["dev"][self.metric]
        if not math.isfinite(value):
            return  # training raises DivergedError on it next
        self.trial.report(value, self.offset + record["epoch"])
        if self.trial.should_prune():
            raise optuna_module().TrialPruned(f"dev {self.metric} {value:.4f} at epoch {record['epoch']}")

    def close(self) -> None:
        pass


def objective_value(record: dict, metric: str) -> float:
    """The trial's result: the recipe's dev selection metric (for CV, its mean over held-out folds)."""
    if "cv" in record:
        return record["cv"][f"{metric}_mean"]
    return record["dev"][metric]


def run_trial(search: Search, trial, keep_pruned: bool) -> float:
    """Train one trial into OUT/trials/NNNN and return its objective (NaN marks a failed trial)."""
    optuna = optuna_module()
    params = {key: dimension.suggest(trial) for key, dimension in search.space.items()}
    config = trial_config(search, params)
    folder = search.out / "trials" / f"{trial.number:04d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    reporters: list[TrialReporter] = []  # one per training run of the trial (a CV recipe: per fold)

    def reporter(metric: str, minimize: bool) -> TrialReporter:
        reporters.append(TrialReporter(trial, len(reporters), metric))
        return reporters[-1]

    try:
        with open(folder.with_suffix(".log"), "w", buffering=1) as stream, contextlib.redirect_stdout(stream), \
                contextlib.redirect_stderr(stream), listening(reporter):
            record = search.module.main(config, folder)
    except optuna.TrialPruned:
        if not keep_pruned:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    except SeqtasksError as error:  # diverged, or values the space allowed that the model refuses
        shutil.rmtree(folder, ignore_errors=True)
        trial.set_user_attr("error", str(error))
        trial.set_user_attr("diverged", isinstance(error, DivergedError))
        return float("nan")
    trial.set_user_attr("metric", reporters[0].metric)
    return objective_value(record, reporters[0].metric)


# -- the study ------------------------------------------------------------------------------------
def open_study(search: Search, settings: TuneSettings, sampler_seed: int):
    optuna = optuna_module()
    if settings.storage:
        storage = optuna.storages.RDBStorage(settings.storage, heartbeat_interval=60, grace_period=180)
    else:
        path = search.out / "study.journal"
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    # Not before epoch 4: a moving average of the weights (train.average) and low rates start slowly, and
    # a median pruner from epoch 2 stopped such trials in a measured sst2 study before they could catch up.
    # Epochs count from 1, and Optuna prunes from step n_warmup_steps on.
    pruner = {"median": optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=4),
              "halving": optuna.pruners.SuccessiveHalvingPruner(),
              "none": optuna.pruners.NopPruner()}[settings.pruner]
    return optuna.create_study(study_name=settings.study, storage=storage, load_if_exists=True,
                               direction="minimize" if search.minimize else "maximize", pruner=pruner,
                               sampler=optuna.samplers.TPESampler(seed=sampler_seed))


def counted_states():
    TrialState = optuna_module().trial.TrialState
    return (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def finished(study) -> list:
    TrialState = optuna_module().trial.TrialState
    return [t for t in study.get_trials(deepcopy=False) if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def fail_interrupted(study, out: Path) -> int:
    """Trials left RUNNING by a process of this machine that no longer exists (kill -9) are marked
    failed, their half-written folders removed and their values queued again, so the study neither
    loses them nor counts them done."""
    TrialState = optuna_module().trial.TrialState
    host, failed = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.user_attrs.get("host") == host and not process_alive(trial.user_attrs.get("pid", -1)):
            study.tell(trial.number, state=TrialState.FAIL)
            shutil.rmtree(out / "trials" / f"{trial.number:04d}", ignore_errors=True)
            study.enqueue_trial(trial.params, user_attrs={"retries": trial.number})
            failed += 1
    return failed


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def work(search: Search, settings: TuneSettings, worker: int, bar: tqdm | None = None) -> None:
    """Ask, train and tell trials until the study holds --trials finished ones or time runs out. The
    count is the study's, so every process working on it stops at the same total: a trial numbered
    after the target was reached (two processes asking at once) is told failed, as surplus, unrun."""
    optuna = optuna_module()
    TrialState = optuna_module().trial.TrialState
    study = open_study(search, settings, settings.seed)
    # Seeded, but not replaying the draws a resumed or parallel study already made.
    study.sampler = optuna.samplers.TPESampler(seed=settings.seed + 1000 * worker + len(study.trials))
    deadline = time.monotonic() + settings.timeout_s if settings.timeout_s else math.inf
    failures = 0
    while time.monotonic() < deadline:
        if count(study) >= settings.trials:
            return
        trial = study.ask()
        ahead = [t for t in study.get_trials(deepcopy=False, states=counted_states()) if t.number < trial.number]
        if len(ahead) >= settings.trials:
            trial.set_user_attr("surplus", True)
            study.tell(trial, state=TrialState.FAIL)
            return
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        try:
            value = run_trial(search, trial, settings.keep_pruned)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
            failures = 0
            advance(bar, study)
            continue
        except BaseException:  # a bug, or Ctrl-C: the trial is failed, not left running
            study.tell(trial, state=TrialState.FAIL)
            raise
        if math.isnan(value):
            study.tell(trial, state=TrialState.FAIL)
            failures += 1
            if failures >= FAILURES_IN_A_ROW:
                raise SeqtasksError(f"{failures} trials in a row failed; the last: {trial.user_attrs['error']}")
            continue
        failures = 0
        study.tell(trial, value)
        advance(bar, study)


def count(study) -> int:
    return len(study.get_trials(deepcopy=False, states=counted_states()))


def advance(bar: tqdm | None, study) -> None:
    if bar is None:
        return
    bar.n = len(finished(study))
    best = best_trial(study)
    bar.set_postfix_str(f"best {best.value:.4f} (trial {best.number})" if best else "no trial finished yet")
    bar.refresh()


def best_trial(study):
    try:
        return study.best_trial
    except ValueError:
        return None


def worker_process(settings: TuneSettings, worker: int) -> None:
    """One of --workers processes: its share of the cores, its own sampler seed, output in a log."""
    search = resolve_search(settings)
    log = search.out / f"worker-{worker}.log"
    with open(log, "a") as stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        try:
            torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // settings.workers))
            work(search, settings, worker)
        except BaseException:
            traceback.print_exc()
            raise


def run_workers(search: Search, settings: TuneSettings, bar: tqdm) -> None:
    """--workers K: K spawned processes on the same study; this one shows their progress."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker_process, args=(settings, k), daemon=False)
                 for k in range(settings.workers)]
    for process in processes:
        process.start()
    study = open_study(search, settings, settings.seed)
    while any(process.is_alive() for process in processes):
        advance(bar, study)
        time.sleep(2)
    advance(bar, study)
    broken = [k for k, process in enumerate(processes) if process.exitcode != 0]
    if broken:
        raise SeqtasksError(f"worker {broken[0]} stopped with an error: see {search.out / f'worker-{broken[0]}.log'}")


# -- after the search ------------------------------------------------------------------------------
@dataclass
class Confirmed:
    """One top trial re-trained over seeds: what `--confirm` picks by."""

    trial: int
    params: dict
    single: float  # the trial's own value
    values: list[float]
    mean: float
    std: float


def confirm(search: Search, settings: TuneSettings, study) -> list[Confirmed]:
    """The best --confirm trials, each trained once per confirm seed (the trial itself stands for its own
    seed, unless it ran on a cross-validation proxy), ranked by mean: a single-seed lead smaller than the
    seed spread is luck."""
    TrialState = optuna_module().trial.TrialState
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if math.isfinite(t.value)]
    top = sorted(complete, key=lambda t: t.value, reverse=not search.minimize)[:settings.confirm]
    results = []
    for trial in top:
        config = recipe_config(search, trial.params)
        values = []
        for seed in settings.confirm_seeds:
            if seed == config.train.seed and not search.recipe_folds:
                values.append(trial.value)
                continue
            seeded = copy.deepcopy(config)
            seeded.train.seed = seed
            folder = search.out / "confirm" / f"{trial.number:04d}" / f"seed-{seed}"
            tqdm.write(f"confirming trial {trial.number}: seed {seed}")

            def produce(seeded=seeded, folder=folder) -> dict:
                shutil.rmtree(folder, ignore_errors=True)
                with open(folder.with_suffix(".log"), "w", buffering=1) as stream, \
                        contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
                    record = search.module.main(seeded, folder)
                return record

            folder.parent.mkdir(parents=True, exist_ok=True)
            record = resumable(RunFolder(folder).metrics, True, produce)
            values.append(objective_value(record, trial.user_attrs["metric"]))
        results.append(Confirmed(trial.number, trial.params, trial.value, values, statistics.mean(values),
                                 statistics.stdev(values) if len(values) > 1 else 0.0))
    return sorted(results, key=lambda c: c.mean, reverse=not search.minimize)


def toml_text(data: dict, table: str = "") -> str:
    """A nested dict of scalars as TOML (what best.toml needs; Python's tomllib only reads)."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(toml_text(value, f"{table}.{key}" if table else key))
        elif value is not None:
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, str):
                text = strict_json(value, ensure_ascii=False)
            else:
                text = repr(value)
            lines.append(f"{key} = {text}")
    head = [f"[{table}]"] if table and lines else []
    return "\n".join(part for part in ["\n".join(head + lines), *tables] if part) + ("\n" if not table else "")


def differences(config: dict, defaults: dict) -> dict:
    """The keys of `config` whose values differ from the recipe's defaults, nested as the config is."""
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            inner = differences(value, defaults.get(key, {}))
            if inner:
                out[key] = inner
        elif defaults.get(key) != value:
            out[key] = value
    return out


def write_best(search: Search, params: dict, path: Path, note: str) -> None:
    """best.toml: the recipe and every key the chosen trial set apart from the recipe's defaults."""
    config = recipe_config(search, params)
    chosen = differences(to_dict(config), to_dict(search.module.Config()))
    text = f"# {note}\n# seqtasks train --config {path}\nrecipe = {strict_json(config.recipe)}\n" + toml_text(chosen)
    atomic_write(path, lambda temp: Path(temp).write_text(text))


def write_plots(study, out: Path) -> list[str]:
    """Optimization history, parameter importances and the trials' learning curves, where there is
    enough to draw (importances need two finished trials that differ)."""
    from optuna.visualization import matplotlib as views  # optional: the tune extra
    written = []
    for name, draw in (("history", views.plot_optimization_history), ("importances", views.plot_param_importances),
                       ("curves", plot_curves)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "importances will be equal" on a tiny study
                axes = draw(study)
        except (ValueError, RuntimeError, ZeroDivisionError):
            continue
        figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
        figure.set_size_inches(8, 4.5)
        figure.tight_layout()
        save_figure(figure, out / f"{name}.png")
        written.append(f"{name}.png")
    return written


def plot_curves(study):
    """Each trial's dev curve by epoch (a cross-validated trial: its first fold's), the pruned in grey
    and the best single trial in bold. Optuna's own plot gives each trial a legend entry, which takes
    over the figure once there are a few dozen."""
    curves = [(trial, sorted((step, value) for step, value in trial.intermediate_values.items()
                             if step < STEPS_PER_RUN)) for trial in study.trials]
    curves = [(trial, points) for trial, points in curves if points]
    if not curves:
        raise ValueError("no trial reported a dev score")
    best = best_trial(study)
    TrialState = optuna_module().trial.TrialState
    axes = pyplot().subplots()[1]
    styles = {TrialState.COMPLETE: ("tab:blue", 1.0, "complete"), TrialState.PRUNED: ("0.7", 0.8, "pruned")}
    labelled = set()
    for trial, points in curves:
        color, width, label = styles.get(trial.state, ("tab:red", 0.8, "failed"))
        if best is not None and trial.number == best.number:
            color, width, label = "tab:orange", 2.5, f"best single trial ({trial.number})"
        axes.plot(*zip(*points), color=color, linewidth=width, marker=".", markersize=3,
                  label=None if label in labelled else label, zorder=3 if color == "tab:orange" else 2)
        labelled.add(label)
    axes.set_xlabel("epoch")
    axes.set_ylabel(f"dev {curves[0][0].user_attrs.get('metric', 'metric')}")
    axes.set_title(f"{len(curves)} trials' dev curves")
    axes.grid(alpha=0.3)
    axes.legend()
    return axes


def tune(settings: TuneSettings) -> dict:
    """Run (or resume) the study, confirm its best trials, and write what a person reads afterwards."""
    optuna_module()
    search = resolve_search(settings)
    manifest = search.out / "tune.json"
    if settings.resume and not manifest.is_file():
        raise RunFolderError(f"--resume: {search.out} holds no study (no tune.json); start one without --resume")
    if not settings.resume and search.out.exists() and any(search.out.iterdir()):
        raise RunFolderError(f"{search.out} already holds a study: continue it with --resume, or choose another --out")
    if not settings.resume:
        check_data(search.base)
    started = time.monotonic()
    search.out.mkdir(parents=True, exist_ok=True)
    asked = {"recipe": search.base.recipe, "overrides": settings.overrides,
             "space": {k: d.spec() for k, d in search.space.items()},
             "direction": "minimize" if search.minimize else "maximize",
             "cv_proxy_folds": settings.cv_folds if search.recipe_folds else 0}
    if settings.resume:
        saved = read_json(manifest, "the study's tune.json")
        changed = [key for key, value in asked.items() if saved.get(key) != value]
        if changed:
            raise ConfigError(f"--resume continues the study in {search.out} as it was asked: its {changed[0]} was "
                              f"{saved.get(changed[0])!r}, now {asked[changed[0]]!r}; repeat the first command "
                              f"with --resume, or start another --out")
    else:
        write_json(manifest, {**asked, "settings": asdict(settings)})
    study = open_study(search, settings, settings.seed)
    interrupted = fail_interrupted(study, search.out)
    proxy = (f"; trials cross-validate on {settings.cv_folds} folds, a proxy of the recipe's {search.recipe_folds}"
             if search.recipe_folds else "")
    print(f"tune {search.base.recipe}: {settings.trials} trials over {', '.join(search.space)}{proxy} -> {search.out}"
          + (f" ({interrupted} interrupted trial(s) queued again)" if interrupted else ""))
    with tqdm(total=settings.trials, initial=len(finished(study)), desc="trials", unit="trial") as bar:
        advance(bar, study)
        if settings.workers == 1:
            work(search, settings, 0, bar)
        else:
            run_workers(search, settings, bar)
    return summarize(search, settings, study, started)


def summarize(search: Search, settings: TuneSettings, study, started: float) -> dict:
    """trials.csv, the confirmation, best.toml, summary.json and the plots; `started`: monotonic time
    the command began (the summary gives the search's and the confirmation's minutes apart)."""
    searched = time.monotonic() - started
    TrialState = optuna_module().trial.TrialState
    trials = [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    by_state = {state.name.lower(): sum(t.state == state for t in trials) for state in TrialState}
    frame = study.trials_dataframe()
    atomic_write(search.out / "trials.csv", lambda temp: frame.to_csv(temp, index=False))
    best = best_trial(study)
    if best is None:
        raise SeqtasksError(f"no trial finished ({by_state}); see the logs in {search.out / 'trials'}")
    confirmed = confirm(search, settings, study) if settings.confirm else []
    chosen = confirmed[0] if confirmed else None
    params = chosen.params if chosen else best.params
    note = (f"trial {chosen.trial}: mean {chosen.mean:.4f} ± {chosen.std:.4f} over seeds "
            f"{','.join(map(str, settings.confirm_seeds))}" if chosen else f"trial {best.number}: {best.value:.4f}")
    write_best(search, params, search.out / "best.toml", f"chosen by seqtasks tune, {note}")
    summary = {"recipe": search.base.recipe, "direction": "minimize" if search.minimize else "maximize",
               "trials": by_state, "best_trial": {"number": best.number, "value": best.value, "params": best.params},
               "confirmation": [asdict(c) for c in confirmed], "chosen": params, "seconds": round(time.monotonic() - started, 1),
               "search_seconds": round(searched, 1),
               "plots": write_plots(study, search.out)}
    write_json(search.out / "summary.json", summary)
    return summary


def report_lines(summary: dict, out: Path) -> list[str]:
    states = summary["trials"]
    lines = [(f"{states['complete']} trials complete, {states['pruned']} pruned, {states['fail']} failed, "
              f"{summary['search_seconds'] / 60:.1f} min searching, {summary['seconds'] / 60:.1f} in all; best single trial {summary['best_trial']['number']}: "
              f"{summary['best_trial']['value']:.4f}")]
    if summary["confirmation"]:
        lines.append("trial  single  mean ± std over seeds")
        lines += [f"{c['trial']:>5}  {c['single']:.4f}  {c['mean']:.4f} ± {c['std']:.4f}" for c in summary["confirmation"]]
    lines.append("chosen: " + ", ".join(f"{k}={override_text(v)}" for k, v in summary["chosen"].items()))
    lines.append(f"-> {out / 'best.toml'} (seqtasks train --config {out / 'best.toml'}), trials.csv, summary.json, "
                 + ", ".join(summary["plots"]))
    return lines
