"""A run folder, and the one type that knows its layout (RunFolder): what was trained, on what, and how
it scored, so anyone can reproduce it.

    config.json  vocab.json  labels.json     inputs of the run (a multi-task run: the run's config and
    data.json                                vocabulary here, each task's in tasks/NAME/); data checksums
    best.safetensors                         best weights on dev, with the inputs' checksums in its header
    last.safetensors  trainer_state.json     for --resume
    log.jsonl  curve.png                     per-epoch log and training curve
    metrics.json                             results + config, seed, data checksums, versions
    model.onnx  model.int8.onnx  export.json derived by `seqtasks export`, checked against best.safetensors
    fold-NN/  seed-N/  tasks/NAME/           a cross-validated run's folds, a seed sweep's runs, a task

Loading reads these files back for torch (`load_run`), and refuses a folder whose parts no longer
belong together (a labels.json edited since training).
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seqtasks.core.checkpoint import load_state, load_tensors, load_weights, read_metadata, write_json
from seqtasks.core.config import EncoderConfig, RunConfig, from_dict, to_dict
from seqtasks.core.errors import CheckpointError, ConfigError, RunFolderError, SeqtasksError
from seqtasks.core.plots import pyplot, save_figure
from seqtasks.data.resolve import file_sha256
from seqtasks.data.vocab import LabelSet, Vocab
from seqtasks.model.encoder import LSTMEncoder
from seqtasks.tasks import Task, get_task, legacy_task
from seqtasks.tasks.model import SequenceModel

INPUTS = ("config.json", "vocab.json", "labels.json")


@dataclass(frozen=True)
class RunFolder:
    """Where each file of a run lives. Nothing else in the toolkit spells a run folder's file names."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    config = property(lambda self: self.path / "config.json")
    vocab = property(lambda self: self.path / "vocab.json")
    labels = property(lambda self: self.path / "labels.json")
    data = property(lambda self: self.path / "data.json")
    best = property(lambda self: self.path / "best.safetensors")
    last = property(lambda self: self.path / "last.safetensors")
    trainer_state = property(lambda self: self.path / "trainer_state.json")
    log = property(lambda self: self.path / "log.jsonl")
    curve = property(lambda self: self.path / "curve.png")
    metrics = property(lambda self: self.path / "metrics.json")
    export_manifest = property(lambda self: self.path / "export.json")

    def graph(self, int8: bool = False) -> Path:
        return self.path / ("model.int8.onnx" if int8 else "model.onnx")

    def task(self, name: str) -> RunFolder:
        """A multi-task run's task (its config, vocabulary view, labels and exports); "" is the run itself."""
        return RunFolder(self.path / "tasks" / name) if name else self

    def fold(self, k: int) -> RunFolder:
        return RunFolder(self.path / f"fold-{k:02d}")

    def seed(self, seed: int) -> RunFolder:
        return RunFolder(self.path / f"seed-{seed}")

    @property
    def parent_run(self) -> RunFolder | None:
        """The multi-task run a task folder belongs to (None for any other folder)."""
        return RunFolder(self.path.parent.parent) if self.path.parent.name == "tasks" else None

    def holds_run(self) -> bool:
        return self.config.is_file()

    def task_names(self) -> list[str]:
        """A multi-task run's tasks, sorted; [] for a single-task run."""
        if not (self.path / "tasks").is_dir() or "tasks" not in read_json(self.config, "a run config"):
            return []
        return sorted(p.name for p in (self.path / "tasks").iterdir() if (p / "config.json").is_file())

    def folds(self) -> list[RunFolder]:
        return [RunFolder(p) for p in sorted(self.path.glob("fold-*")) if (p / "best.safetensors").is_file()]

    def write_inputs(self, config: RunConfig, vocab: Vocab, labels: LabelSet) -> None:
        write_json(self.config, to_dict(config))
        vocab.save(self.vocab)
        labels.save(self.labels)

    def input_checksums(self) -> dict[str, str]:
        """sha256 of every input file of the run and its tasks, by path inside the folder: recorded in
        best.safetensors when it is written, compared when it is loaded."""
        files = [self.path / name for name in INPUTS]
        files += [self.task(name).path / file for name in self.task_names() for file in INPUTS]
        return {str(f.relative_to(self.path)): file_sha256(f) for f in files if f.is_file()}


def read_json(path: Path, what: str) -> dict:
    """A JSON object from a run folder, or one line that names the file and what is wrong with it."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing ({what})") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: not valid JSON ({error}); the run folder is damaged") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object ({what}), found {type(data).__name__}")
    return data


def check_inputs(folder: RunFolder, weights: Path) -> None:
    """Refuse weights whose run inputs changed since they were written (a reversed labels.json would
    flip every prediction without an error)."""
    root = folder.parent_run or folder
    recorded = {k[len("input:"):]: v for k, v in read_metadata(weights).items() if k.startswith("input:")}
    for name, sha256 in recorded.items():
        path = root.path / name
        if not path.is_file() or file_sha256(path) != sha256:
            raise CheckpointError(f"{path}: changed since {weights.name} was trained (its checksum is recorded "
                                  f"there); restore it, or train the run again")


@dataclass
class RunInputs:
    """What predicting with a run needs besides its model: where it is, its config, vocabulary, labels."""

    run_dir: Path
    config: RunConfig
    vocab: Vocab
    labels: LabelSet

    @property
    def task(self) -> Task:
        return get_task(self.config.task)


@dataclass
class LoadedRun(RunInputs):
    """A trained run ready to predict, with its torch model."""

    model: SequenceModel


def load_run_config(folder: RunFolder, labels: LabelSet) -> RunConfig:
    """config.json; one written before the task layer (no `task`) gets its task from its head, and one
    written before head.tie_embedding had its output layer untied, whatever its widths."""
    saved = read_json(folder.config, "the run's config")
    if "task" not in saved and isinstance(saved.get("head"), dict):
        saved["task"], saved["head"]["name"] = legacy_task(saved["head"].get("name", ""), labels.labels)
    if isinstance(saved.get("head"), dict):
        saved["head"].setdefault("tie_embedding", False)
    try:
        return from_dict(RunConfig, saved, where=str(folder.config))
    except TypeError as error:
        raise CheckpointError(f"{folder.config}: not a run config ({error})") from None


def load_inputs(folder: RunFolder) -> tuple[RunConfig, Vocab, LabelSet]:
    vocab, labels = load_vocab(folder), load_labels(folder)
    return load_run_config(folder, labels), vocab, labels


def load_vocab(folder: RunFolder) -> Vocab:
    return load_input(folder.vocab, Vocab.load, "a seqtasks vocabulary")


def load_labels(folder: RunFolder) -> LabelSet:
    return load_input(folder.labels, LabelSet.load, "a seqtasks label set")


def load_input(path: Path, load, what: str):
    """load(path), or one line that names the file: missing, or not `what`."""
    try:
        return load(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; the run folder is incomplete") from None
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: not {what} ({error})") from None


def load_run(run_dir: str | Path, map_location: str = "cpu", task: str = "") -> LoadedRun:
    """A run's best model; of a multi-task run, the named task's (the shared encoder and its head)."""
    folder = RunFolder(Path(run_dir))
    if not folder.holds_run():
        raise CheckpointError(f"{folder.path}: not a run folder (no config.json)")
    names = folder.task_names()
    if names or task:
        return load_task(folder, names, task, map_location)
    if not folder.best.is_file():
        folds = folder.folds()
        hint = f"; it is a cross-validated run, pick a fold: {folds[0].path}" if folds else ""
        raise CheckpointError(f"{folder.path}: no trained weights (best.safetensors){hint}")
    check_inputs(folder, folder.best)
    config, vocab, labels = load_inputs(folder)
    model = new_model(config, vocab, labels)
    load_weights(model, folder.best, device=map_location)
    model.to(map_location).eval()
    return LoadedRun(folder.path, config, vocab, labels, model)


def new_model(config: RunConfig, vocab: Vocab, labels: LabelSet) -> SequenceModel:
    """The model a run's inputs describe, its encoder knowing the vocabulary (to encode raw text)."""
    encoder = LSTMEncoder.from_config(config.encoder, len(vocab), vocab=vocab)
    return get_task(config.task).build_model(config, encoder, labels.labels)


def load_task(folder: RunFolder, names: list[str], task: str, map_location: str) -> LoadedRun:
    if not names:
        raise ConfigError(f"{folder.path} is a single-task run; --task is for a multi-task run")
    if task not in names:
        said = f"has no task {task!r}" if task else "is a multi-task run: name one of its tasks with --task"
        raise ConfigError(f"{folder.path} {said}; its tasks: {', '.join(names)}")
    if not folder.best.is_file():
        raise CheckpointError(f"{folder.path}: no trained weights (best.safetensors)")
    check_inputs(folder, folder.best)
    config, vocab, labels = load_inputs(folder.task(task))
    model = new_model(config, vocab, labels)
    tensors = load_tensors(folder.best, "model", map_location)
    head = f"heads.{task}."
    mine = {name: t for name, t in tensors.items() if name.startswith("encoder.")}
    mine.update({"head." + name[len(head):]: t for name, t in tensors.items() if name.startswith(head)})
    load_state(model, mine, folder.best)
    model.to(map_location).eval()
    return LoadedRun(folder.task(task).path, config, vocab, labels, model)


def load_encoder(folder: RunFolder, map_location: str = "cpu") -> tuple[LSTMEncoder, Vocab, EncoderConfig]:
    """A run's trained encoder (its best weights), its vocabulary and its encoder config; the run may be
    single- or multi-task."""
    if not folder.holds_run():
        raise CheckpointError(f"{folder.path}: not a run folder (no config.json)")
    vocab = load_vocab(folder)
    saved = read_json(folder.config, "the run's config")
    config = from_dict(EncoderConfig, saved.get("encoder", {}), f"{folder.config}:encoder")
    encoder = LSTMEncoder.from_config(config, len(vocab), vocab=vocab)
    tensors = load_tensors(folder.best, "model", map_location)
    load_state(encoder, {name[len("encoder."):]: t for name, t in tensors.items() if name.startswith("encoder.")},
               folder.best)
    return encoder.to(map_location).eval(), vocab, config


LSTMEncoder.folder_loader = staticmethod(lambda run_dir, map_location: load_encoder(RunFolder(run_dir), map_location)[0])


def check_target(run_dir: Path, resume: bool, overwrite: bool) -> None:
    """Whether a run may be written into run_dir, said before anything is read or written."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is a file, not a folder; choose a run folder with --out")
    folder = RunFolder(run_dir)
    if resume:
        if not folder.holds_run():
            raise RunFolderError(f"--resume: {run_dir} holds no run to continue")
        return
    if overwrite or not run_dir.exists() or not any(run_dir.iterdir()):
        return
    if folder.holds_run():
        raise RunFolderError(f"{run_dir} already holds a run; continue it with --resume, choose another folder "
                             f"with --out, or replace it with --overwrite")
    raise RunFolderError(f"{run_dir} holds files but no run; choose an empty folder with --out, or replace its "
                         f"contents with --overwrite")


def staging_path(run_dir: Path) -> Path:
    return run_dir.with_name(f".{run_dir.name}.replacing")


@contextmanager
def replacing(run_dir: Path, overwrite: bool, main_process: bool = True) -> Iterator[Path]:
    """The folder to write a new run into. A run replacing another (--overwrite) is written into a fresh
    sibling and swapped in only when it has finished, so a failed replacement leaves the old run (and
    nothing derived from it, like an export, survives a successful one). A new run is written in place,
    where --resume finds it after a kill; if it fails with an error of the user's, the folder it made
    is removed, so the corrected rerun is not refused."""
    existed = run_dir.exists()
    replaces = overwrite and existed and any(run_dir.iterdir())
    target = staging_path(run_dir) if replaces else run_dir
    if main_process and replaces:
        shutil.rmtree(target, ignore_errors=True)
    try:
        yield target
    except BaseException as error:
        if main_process and (replaces or isinstance(error, SeqtasksError)):
            shutil.rmtree(target, ignore_errors=True)
            if existed and not replaces:
                target.mkdir()  # the user's empty folder stays, empty
        raise
    if main_process and replaces:
        retired = run_dir.with_name(f".{run_dir.name}.replaced")
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(run_dir, retired)
        os.replace(target, run_dir)
        shutil.rmtree(retired, ignore_errors=True)


def plot_curve(history: list[dict], metric: str, path: Path) -> None:
    """Training loss and the dev metric per epoch, side by side."""
    plt = pyplot()
    epochs = [row["epoch"] for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [row["train_loss"] for row in history], marker="o")
    left.set(xlabel="epoch", ylabel="train loss", title="training loss")
    right.plot(epochs, [row["dev"][metric] for row in history], marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel=f"dev {metric}", title=f"dev {metric}")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
