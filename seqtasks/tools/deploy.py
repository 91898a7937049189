"""A trained run as a file any runtime loads: the encoder, the head and the task's named outputs
traced into one ONNX graph (model.onnx), optionally quantized to int8 (model.int8.onnx), and read
back under onnxruntime as a model that answers `outputs(batch, task)` like the torch one, so
predict, evaluate and embed run unchanged on it.

- Variable batch size and length are dynamic axes. The LSTM is ONNX's LSTM op with `sequence_lens`
  (torch's exporter maps pack_padded_sequence onto it), so padding never enters the recurrence in
  the graph either, and h_T is each row's own last step.
- The graph is traced by torch's TorchScript exporter: torch.export cannot trace packed sequences
  (their lengths are data, not shapes). Only `cell = "lstm"` exports; the other cells are Python
  loops that a trace would unroll to one length.
- A CRF's Viterbi decoding stays outside the graph (heads.tagging.decode_tags, over the transition
  scores written to export.json): a K x K step per token is microseconds in any language, while an
  ONNX Loop over time would cost a kernel launch per step and make the graph opaque.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from heads.crf import CRF
from heads.tagging import decode_tags
from seqtasks.core.checkpoint import atomic_write, write_json
from seqtasks.core.errors import CheckpointError, ConfigError, SeqtasksError
from seqtasks.data.batching import Batch
from seqtasks.data.chars import MAX_BYTES, WordChars
from seqtasks.data.resolve import file_sha256
from seqtasks.engine.provenance import library_versions
from seqtasks.engine.run import LoadedRun, RunFolder, RunInputs, load_inputs, load_run
from seqtasks.tasks import Task, get_task

MANIFEST = "export.json"
OPSET = 17
PARITY = 1e-4  # the largest |onnx - torch| export accepts on its check batch
# axes other than the first (rows or pairs) that vary with the input
STEP_AXES = {"attention": 2, "emissions": 1}


class MissingExtraError(SeqtasksError, ImportError):
    pass


def optional(module: str) -> ModuleType:
    """onnx and onnxruntime are the `onnx` extra: without them, say what to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{module} is not installed; the ONNX backend needs it: "
                                f"pip install 'seqtasks[onnx]'") from None


class Graph(nn.Module):
    """What the exported graph computes: tensors in, the task's named outputs out."""

    def __init__(self, run: LoadedRun) -> None:
        super().__init__()
        self.model, self.task = run.model, run.task

    def forward(self, token_ids, lengths, char_spellings=None, char_index=None):
        chars = None if char_spellings is None else WordChars(char_spellings, char_index)
        batch = Batch(token_ids, lengths, None, lengths, chars)
        encoded = self.model.encode(batch)
        return tuple(self.task.outputs(self.model, encoded, self.model.head(encoded, batch)).values())


def check_batch(run: LoadedRun) -> tuple[torch.Tensor, ...]:
    """A batch of mixed lengths (pairs: an even number of rows) to trace and check the graph on."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([9, 4, 7, 1, 6, 9])
    steps = torch.arange(int(lengths.max()))
    real = steps[None, :] < lengths[:, None]
    token_ids = torch.randint(2, max(len(run.vocab), 3), (len(lengths), len(steps)), generator=generator) * real
    if not run.config.encoder.chars:
        return token_ids, lengths
    spellings = torch.randint(1, 128, (5, MAX_BYTES), generator=generator)
    index = torch.randint(0, 5, token_ids.shape, generator=generator)
    return token_ids, lengths, spellings, index


def export_run(run_dir: str | Path, int8: bool = False, task: str = "") -> dict:
    """Write model.onnx (and with int8, model.int8.onnx) and export.json into the run folder (a
    multi-task run's `task`: into tasks/TASK/); returns the manifest. The fp32 graph is checked against
    the torch model before anything is kept."""
    onnx = optional("onnx")
    weights = RunFolder(Path(run_dir)).best
    run = load_run(run_dir, task=task)
    if not run.task.exportable:
        raise ConfigError(f"{run.run_dir}: a {run.task.name} run exports nothing; export a run that starts from it "
                          f"(--set encoder.init={run.run_dir})")
    folder = RunFolder(run.run_dir)
    run_dir = run.run_dir
    if run.config.encoder.cell != "lstm":
        raise ConfigError(f"{run_dir}: encoder.cell={run.config.encoder.cell!r} does not export; only cell=lstm "
                          f"(nn.LSTM, ONNX's LSTM op) does")
    graph, inputs = Graph(run).eval(), check_batch(run)
    input_names = ["token_ids", "lengths", "char_spellings", "char_index"][: len(inputs)]
    with torch.inference_mode():
        expected = {name: value.float() for name, value in run.model.outputs(batch_of(inputs), run.task).items()}
    axes = {"token_ids": {0: "rows", 1: "steps"}, "lengths": {0: "rows"}, "char_spellings": {0: "forms"},
            "char_index": {0: "rows", 1: "steps"}}
    for name in expected:  # a pair task's answers have a row per pair, half the rows of its inputs
        first = "pairs" if run.task.pair and name != "embedding" else "rows"
        axes[name] = {0: first, **({STEP_AXES[name]: "steps"} if name in STEP_AXES else {})}
    fp32 = folder.graph(int8=False)
    with warnings.catch_warnings(), native_stderr_silenced():
        warnings.simplefilter("ignore")  # the tracer's notes on the encoder's input checks, and the exporter's age
        atomic_write(fp32, lambda temp: torch.onnx.export(
            graph, inputs, temp, dynamo=False, opset_version=OPSET, input_names=input_names,
            output_names=list(expected), dynamic_axes=axes))
    difference = parity(load_graph(fp32), inputs, expected)
    if difference > PARITY:
        fp32.unlink()
        raise CheckpointError(f"{run_dir}: the exported graph differs from the torch model by {difference:.2e} "
                              f"(more than {PARITY}); nothing was kept")
    manifest = {
        "format": "onnx", "opset": OPSET, "task": run.config.task, "inputs": input_names, "outputs": list(expected),
        "files": {"fp32": file_record(fp32)}, "check_max_abs_difference": difference,
        "crf": crf_scores(run), "checkpoint_sha256": file_sha256(weights),
        "versions": {**library_versions(), "onnx": onnx.__version__}, "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if int8:
        quantization = optional("onnxruntime.quantization")
        target = folder.graph(int8=True)
        logging.disable(logging.WARNING)  # its advice to pre-process is for convolutional image models
        try:
            # reduce_range: 7-bit weights. On x86 CPUs without VNNI, onnxruntime's u8 x s8 kernels add pairs of
            # products in 16 bits, which saturate at 8-bit weights (onnxruntime's quantization docs): an AVX2 machine
            # kept 98.1% of a small sst2 model's dev predictions at 8 bits and 99.7% at 7.
            atomic_write(target, lambda temp: quantization.quantize_dynamic(fp32, temp, reduce_range=True,
                                                                             weight_type=quantization.QuantType.QInt8))
        finally:
            logging.disable(logging.NOTSET)
        manifest["files"]["int8"] = file_record(target)
    write_json(folder.export_manifest, manifest)
    return manifest


@contextlib.contextmanager
def native_stderr_silenced():
    """The exporter's C++ side prints shape-inference notes about pack_padded_sequence straight to file
    descriptor 2, which Python's warning filters never see; they say nothing a user can act on. Python
    errors still surface as exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def crf_scores(run: LoadedRun) -> dict | None:
    """A tagging head's CRF as the scores Viterbi uses (forbidden moves already masked), so any runtime
    can decode with no knowledge of tag schemes."""
    crf = getattr(run.model.head, "crf", None)
    if crf is None:
        return None
    transitions, start, end = crf._scores()
    return {"transitions": transitions.tolist(), "start": start.tolist(), "end": end.tolist()}


def file_record(path: Path) -> dict:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def batch_of(inputs: tuple[torch.Tensor, ...]) -> Batch:
    token_ids, lengths, *chars = inputs
    return Batch(token_ids, lengths, None, torch.arange(len(lengths)), WordChars(*chars) if chars else None)


def parity(model: DeployedModel, inputs: tuple[torch.Tensor, ...], expected: dict[str, torch.Tensor]) -> float:
    """The largest |onnx - torch| over every output of the check batch."""
    got = model.run(batch_of(inputs))
    return max(float((got[name] - value).abs().max()) for name, value in expected.items())


class DeployedModel:
    """An exported graph under onnxruntime. `outputs(batch, task)` answers as SequenceModel.outputs does;
    `head` is what of the head runs outside the graph (tag decoding)."""

    def __init__(self, session, head: DeployedHead) -> None:
        self.session, self.head = session, head
        self.input_names = [node.name for node in session.get_inputs()]
        self.output_names = [node.name for node in session.get_outputs()]

    def run(self, batch: Batch) -> dict[str, torch.Tensor]:
        feed = {"token_ids": batch.token_ids, "lengths": batch.lengths}
        if batch.chars is not None:
            feed.update(char_spellings=batch.chars.spellings, char_index=batch.chars.index)
        missing = set(self.input_names) - set(feed)
        if missing:
            raise ConfigError(f"the exported graph needs {', '.join(sorted(missing))}; this batch has none")
        values = self.session.run(None, {name: feed[name].numpy() for name in self.input_names})
        return {name: torch.from_numpy(value).float() for name, value in zip(self.output_names, values)}

    def outputs(self, batch: Batch, task: Task) -> dict[str, torch.Tensor]:
        return self.run(batch)


@dataclass
class DeployedHead:
    crf: CRF | None = None

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        return decode_tags(emissions, mask, self.crf)


def load_graph(path: Path, crf: dict | None = None, threads: int = 0) -> DeployedModel:
    ort = optional("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initializers are the exporter's, not the user's
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 (onnxruntime raises bare Exception subclasses of its own)
        raise CheckpointError(f"{path}: not a loadable ONNX graph ({error})") from None
    head = DeployedHead()
    if crf is not None:
        head.crf = CRF(len(crf["start"]))
        head.crf.load_state_dict({key: torch.tensor(value) for key, value in crf.items()})
    return DeployedModel(session, head)


def load_deployed(run_dir: str | Path, int8: bool = False, threads: int = 0, task: str = "") -> DeployedRun:
    """The run folder's exported graph (fp32, or int8; a multi-task run's `task`) with its config,
    vocabulary and labels; refused when the run was retrained after the export (its best.safetensors is
    not the one the graph was exported from)."""
    root = RunFolder(Path(run_dir))
    folder = root.task(task)
    path, manifest_path = folder.graph(int8), folder.export_manifest
    if not path.is_file() or not manifest_path.is_file():
        command = f"{root.path} --task {task}" if task else str(root.path)
        raise CheckpointError(f"{folder.path}: no exported model ({path.name}); run: seqtasks export {command} "
                              f"--format onnx{' --int8' if int8 else ''}")
    manifest = read_manifest(manifest_path)
    recorded = manifest["files"].get("int8" if int8 else "fp32", {})
    if recorded.get("sha256") != file_sha256(path):
        raise CheckpointError(f"{path}: does not match the checksum in {MANIFEST}; export the run again")
    if root.best.is_file() and manifest.get("checkpoint_sha256") != file_sha256(root.best):
        raise CheckpointError(f"{path}: exported from other weights than {root.best} holds now (the run was "
                              f"trained again); export it again: seqtasks export {root.path}"
                              f"{' --task ' + task if task else ''}")
    config, vocab, labels = load_inputs(folder)
    get_task(config.task)  # an unknown task fails here, by name
    return DeployedRun(folder.path, config, vocab, labels, load_graph(path, manifest.get("crf"), threads))


@dataclass
class DeployedRun(RunInputs):
    """A run's exported graph under onnxruntime: it answers like a LoadedRun (model.outputs), but its
    model is a graph, not an nn.Module."""

    model: DeployedModel


def read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise CheckpointError(f"{path}: not JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "onnx":
        raise CheckpointError(f"{path}: not a seqtasks ONNX export manifest")
    return manifest
