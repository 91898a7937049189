"""`seqtasks bench`: the toolkit's speed, measured against a hand-written loop in the same process.

Ratios are the point: absolute tokens/s move with the machine and with whatever else runs on it,
so every comparison alternates its two sides (A B A B ...) on identical batches and reports the
ratio per round (min, median, max). The default shape is the ud-pos one of the speed issue:
embedding 100, hidden 256, bidirectional, batch 32, random embeddings (vectors change no speed).

LSTM FLOPs per token (per layer and direction, input width E, hidden H): the four gate matrices
are 4H x (E + H), so a forward step costs 2 * 4H * (E + H) = 8H(E + H) FLOPs; backward costs about
twice the forward, so a training step costs 3 * 8H(E + H). Share of the machine = that x tokens/s
over the measured rate of one large fp32 matmul.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqtasks.core.config import RunConfig, apply_overrides
from seqtasks.core.errors import ConfigError
from seqtasks.data.batching import EncodedSplit, bucketed_batches, padding_waste
from seqtasks.engine.prepare import Member, prepare_data, read_parts
from seqtasks.engine.training import make_optimizer, train_epoch
from seqtasks.experiments.raw_loop import RawBatch, RawModel, raw_steps
from seqtasks.model.cells import CELLS
from seqtasks.tasks import build_model, get_task

BENCH_SHAPE = ["encoder.embedding_dim=100", "encoder.hidden_size=256", "encoder.bidirectional=true",
               "encoder.vectors=", "encoder.chars=false", "encoder.cell=lstm", "head.crf=false",
               "train.batch_size=32"]
FLOPS_FORMULA = "train FLOPs/token = sum over layers and directions of 3 * 8H(E+H); inference: 8H(E+H)"


@dataclass
class BenchPlan:
    rounds: int = 7  # A B rounds after one warm-up round
    steps: int = 20  # batches per side per round
    cell_steps: int = 6
    lengths: tuple = (25, 50, 100, 200)
    batch_sizes: tuple = (8, 32, 128)
    batch1_rows: int = 300
    inference_rows: int = 4000
    matmul_size: int = 2048

    @classmethod
    def quick(cls) -> BenchPlan:
        return cls(rounds=2, steps=4, cell_steps=2, lengths=(25, 100), batch_sizes=(8, 32), batch1_rows=50,
                   inference_rows=500, matmul_size=1024)


@dataclass
class Ratio:
    """toolkit/other per round; > 1 means the first side is faster."""

    rounds: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        return {"min": min(self.rounds), "median": statistics.median(self.rounds), "max": max(self.rounds)}


class Clock:
    """Wall time of a callable, waiting for the device so queued GPU work is counted."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self, work: Callable[[], object]) -> float:
        self.sync()
        started = time.perf_counter()
        work()
        self.sync()
        return time.perf_counter() - started

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def lstm_flops_per_token(config: RunConfig) -> tuple[float, float]:
    """(training, inference) FLOPs per token of the recurrence; see the module docstring."""
    e = config.encoder
    directions = 2 if e.bidirectional else 1
    forward = 0.0
    for layer in range(e.num_layers):
        width = (e.embedding_dim + (e.char_features if e.chars else 0)) if layer == 0 else e.hidden_size * directions
        forward += directions * 8 * e.hidden_size * (width + e.hidden_size)
    return 3 * forward, forward


def matmul_rate(size: int, device: torch.device, dtype=torch.float32, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` size x size matmuls."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    clock = Clock(device)
    clock(lambda: a @ b)
    best = min(clock(lambda: a @ b) for _ in range(repeats))
    return 2 * size**3 / best


def tokens_in(split: EncodedSplit, batches: list[torch.Tensor]) -> int:
    return int(sum(int(split.lengths[b].sum()) for b in batches))


def synthetic_split(rows: int, length: int, vocab_size: int, labels: int, per_token: bool, seed: int) -> EncodedSplit:
    """`rows` sequences of exactly `length` random tokens: a corpus of controlled length."""
    gen = torch.Generator().manual_seed(seed)
    flat = torch.randint(2, vocab_size, (rows * length,), generator=gen)
    offsets = torch.arange(rows + 1) * length
    gold = torch.randint(0, labels, (rows * length if per_token else rows,), generator=gen)
    return EncodedSplit(flat, offsets, gold, token_labels=per_token)


class Bench:
    def __init__(self, config: RunConfig, overrides: list[str], plan: BenchPlan, device: str = "cpu", amp: str = "",
                 log: Callable[[str], None] = print) -> None:
        self.config = apply_overrides(copy.deepcopy(config), [*BENCH_SHAPE, *overrides])
        self.task = get_task(self.config.task)
        if self.task.pair:
            raise ConfigError(f"bench measures single-text tasks (tagging, classification), not {self.config.task}")
        recipe = self.config.recipe
        self.recipe, self.plan, self.log = recipe, plan, log
        self.device = torch.device(device)
        self.amp = {"": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        self.clock = Clock(self.device)
        self.results: dict = {"recipe": recipe, "device": device, "amp": amp or "off",
                              "threads": torch.get_num_threads(), "config": dataclasses.asdict(self.config)}

    def autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp)

    # -- data ---------------------------------------------------------------------------------
    def load(self) -> None:
        started = time.perf_counter()
        parts = read_parts(self.config)
        read_s = time.perf_counter() - started
        started = time.perf_counter()
        prepared = prepare_data([Member("", self.config)], self.config.encoder, [parts])
        encode_s = time.perf_counter() - started  # the vocabulary and labels too
        part, (member,) = parts[0], prepared.members
        self.vocab, self.labels, self.split = prepared.vocab, member.labels, member.train
        self.rows = part.rows
        generator = torch.Generator().manual_seed(self.config.train.seed)
        self.batches = bucketed_batches(self.split.lengths, self.config.train.batch_size, generator)
        random = list(torch.randperm(len(self.split), generator=generator).split(self.config.train.batch_size))
        self.random_batches = random
        self.results["data"] = {
            "file": part.source, "sentences": len(self.split), "tokens": int(self.split.lengths.sum()),
            "read_s": round(read_s, 3), "numericalize_s": round(encode_s, 3),
            "padding_waste_bucketed": padding_waste(self.split.lengths, self.batches),
            "padding_waste_random": padding_waste(self.split.lengths, random),
        }

    def model(self, **changes):
        config = dataclasses.replace(
            self.config,
            encoder=dataclasses.replace(self.config.encoder, **changes.get("encoder", {})),
            head=dataclasses.replace(self.config.head, **changes.get("head", {})),
        )
        torch.manual_seed(self.config.train.seed)
        model = build_model(config, len(self.vocab), self.labels.labels).to(self.device)
        return model, make_optimizer(model, config.train)

    def chunks(self, batches: list[torch.Tensor], steps: int, rounds: int) -> list[list[torch.Tensor]]:
        """rounds + 1 consecutive slices of `steps` batches (the first warms up), wrapping around."""
        needed = steps * (rounds + 1)
        cycled = (batches * (needed // len(batches) + 1))[:needed]
        return [cycled[i * steps : (i + 1) * steps] for i in range(rounds + 1)]

    def toolkit_steps(self, model, optimizer, split: EncodedSplit, batches) -> Callable[[], object]:
        def work():
            with self.autocast():
                train_epoch(model, optimizer, split, batches, self.config.train, self.device, "bench")
        return work

    # -- measurements -------------------------------------------------------------------------
    def train_vs_raw(self) -> None:
        e, split = self.config.encoder, self.split
        model, optimizer = self.model()
        torch.manual_seed(self.config.train.seed)
        raw = RawModel(len(self.vocab), e.embedding_dim, e.hidden_size, e.bidirectional, e.dropout,
                       len(self.labels), split.token_labels, e.word_dropout).to(self.device)
        raw_optimizer = make_optimizer(raw, self.config.train)  # the same optimizer: the ratio measures the rest
        ratio, toolkit_rates, raw_rates = Ratio(), [], []
        for index, chunk in enumerate(self.chunks(self.batches, self.plan.steps, self.plan.rounds)):
            raw_batches = [self.raw_batch(split.batch(b)) for b in chunk]  # built before the clock starts
            tokens = tokens_in(split, chunk)
            toolkit_s = self.clock(self.toolkit_steps(model, optimizer, split, chunk))
            with self.autocast():
                raw_s = self.clock(lambda batches=raw_batches: raw_steps(raw, raw_optimizer, batches,
                                                                        self.config.train.clip_norm))
            if index:
                toolkit_rates.append(tokens / toolkit_s)
                raw_rates.append(tokens / raw_s)
                ratio.rounds.append(raw_s / toolkit_s)
        self.model_under_test = model
        self.results["train"] = {
            "toolkit_tokens_per_s": statistics.median(toolkit_rates), "raw_tokens_per_s": statistics.median(raw_rates),
            "ratio": ratio.summary(), "parameters": sum(p.numel() for p in model.parameters()),
            "raw_parameters": sum(p.numel() for p in raw.parameters()),
        }

    def raw_batch(self, batch) -> RawBatch:
        move = lambda t: t.to(self.device, non_blocking=True)
        return RawBatch(move(batch.token_ids), batch.lengths, move(batch.labels))

    def feature_costs(self) -> None:
        """Throughput with character features (and a CRF, for tagging) relative to without."""
        options = {"chars": {"encoder": {"chars": True}}}
        if self.split.token_labels:
            options["crf"] = {"head": {"crf": True}}
        plain, plain_optimizer = self.model()
        self.results["features"] = {}
        for name, changes in options.items():
            model, optimizer = self.model(**changes)
            split = self.split
            if name == "chars":
                started = time.perf_counter()
                split = self.task.encode(self.rows, self.vocab, self.labels, "bench", chars=True)
                self.results["data"]["spell_s"] = round(time.perf_counter() - started, 3)
            ratio = Ratio()
            rounds = max(2, self.plan.rounds // 2)
            for index, chunk in enumerate(self.chunks(self.batches, self.plan.steps, rounds)):
                plain_s = self.clock(self.toolkit_steps(plain, plain_optimizer, self.split, chunk))
                with_s = self.clock(self.toolkit_steps(model, optimizer, split, chunk))
                if index:
                    ratio.rounds.append(plain_s / with_s)
            self.results["features"][name] = {"throughput_vs_without": ratio.summary(),
                                              "cost": 1 - ratio.summary()["median"]}

    def cells(self) -> None:
        """Each variant cell against nn.LSTM on the same batches, alternating, best of the rounds."""
        lstm, lstm_optimizer = self.model()
        out = {}
        for name in CELLS:
            if name == "lstm":
                continue
            model, optimizer = self.model(encoder={"cell": name})
            lstm_times, cell_times = [], []
            for chunk in self.chunks(self.batches, self.plan.cell_steps, 2)[1:]:
                lstm_times.append(self.clock(self.toolkit_steps(lstm, lstm_optimizer, self.split, chunk)))
                cell_times.append(self.clock(self.toolkit_steps(model, optimizer, self.split, chunk)))
            slowdown = statistics.median(c / t for c, t in zip(cell_times, lstm_times))
            out[name] = {"slowdown_vs_lstm": slowdown,
                         "recurrent_parameters": sum(p.numel() for p in model.encoder.rnn.parameters())}
            self.log(f"  cell {name}: {slowdown:.2f}x the time of nn.LSTM")
        out["lstm"] = {"slowdown_vs_lstm": 1.0,
                       "recurrent_parameters": sum(p.numel() for p in lstm.encoder.rnn.parameters())}
        self.results["cells"] = out

    @torch.inference_mode()
    def inference(self) -> None:
        model = self.model_under_test.eval()
        rows = torch.arange(min(self.plan.inference_rows, len(self.split)))
        out = {}
        for batch_size, limit in ((256, len(rows)), (1, self.plan.batch1_rows)):
            subset = rows[:limit]
            batches = [subset[b] for b in bucketed_batches(self.split.lengths[subset], batch_size)]
            ready = [self.split.batch(b) for b in batches[:1]]
            with self.autocast():
                model(ready[0].to(self.device))  # warm-up

                def work(batches=batches):
                    for b in batches:
                        batch = self.split.batch(b)
                        batch.labels = None
                        model(batch.to(self.device)).logits.argmax(-1)

                seconds = self.clock(work)
            out[f"batch_{batch_size}"] = {"tokens_per_s": tokens_in(self.split, batches) / seconds,
                                          "sentences_per_s": len(subset) / seconds}
        self.results["inference"] = out

    def scaling(self) -> None:
        """ms per training batch as T and B grow, on synthetic corpora of exactly T tokens per row. The
        synthetic rows are token ids without spellings, so a char CNN is left out of this one table."""
        model, optimizer = self.model(encoder={"chars": False})
        per_token, labels = self.split.token_labels, len(self.labels)
        out = {"by_length": {}, "by_batch": {}, "chars": False}
        grid = [("by_length", t, 32) for t in self.plan.lengths] + [("by_batch", 50, b) for b in self.plan.batch_sizes]
        for key, length, batch_size in grid:
            split = synthetic_split(batch_size * 3, length, len(self.vocab), labels, per_token, seed=length)
            batches = list(torch.arange(len(split)).split(batch_size))
            self.clock(self.toolkit_steps(model, optimizer, split, batches[:1]))
            seconds = self.clock(self.toolkit_steps(model, optimizer, split, batches[1:])) / 2
            out[key][str(length if key == "by_length" else batch_size)] = {
                "ms_per_batch": 1000 * seconds, "tokens_per_s": length * batch_size / seconds}
        self.results["scaling"] = out

    def hardware(self) -> None:
        rate = matmul_rate(self.plan.matmul_size, self.device)
        train_flops, infer_flops = lstm_flops_per_token(self.config)
        train = self.results["train"]
        hw = {"matmul_fp32_flops_per_s": rate, "matmul_size": self.plan.matmul_size, "formula": FLOPS_FORMULA,
              "train_flops_per_token": train_flops, "inference_flops_per_token": infer_flops,
              "toolkit_train_share": train_flops * train["toolkit_tokens_per_s"] / rate,
              "raw_train_share": train_flops * train["raw_tokens_per_s"] / rate}
        if "inference" in self.results:
            hw["inference_share"] = infer_flops * self.results["inference"]["batch_256"]["tokens_per_s"] / rate
        if self.amp is not None:
            hw["matmul_amp_flops_per_s"] = matmul_rate(self.plan.matmul_size, self.device, self.amp)
        self.results["hardware"] = hw

    def memory(self) -> None:
        peak = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if self.device.type == "cuda":
            peak["peak_cuda_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
        self.results["memory"] = peak

    def run(self) -> dict:
        steps = [("data", self.load), ("training: toolkit vs hand-written loop", self.train_vs_raw),
                 ("inference", self.inference), ("features", self.feature_costs), ("cells", self.cells),
                 ("scaling with T and batch", self.scaling), ("matmul rate", self.hardware),
                 ("memory", self.memory)]
        torch.set_flush_denormal(True)
        for name, step in steps:
            self.log(f"bench: {name} ...")
            step()
        train = self.results["train"]
        self.results.update({"toolkit_train_tokens_per_s": train["toolkit_tokens_per_s"],
                             "raw_train_tokens_per_s": train["raw_tokens_per_s"],
                             "train_ratio": train["ratio"]["median"]})
        return self.results


def run_bench(config: RunConfig, overrides: list[str] | None = None, quick: bool = False, device: str = "cpu",
              amp: str = "", log: Callable[[str], None] = print) -> dict:
    """Measure everything on `config`'s training file (a recipe's config); the dict is what `--json`
    writes (see `table` for the headline)."""
    plan = BenchPlan.quick() if quick else BenchPlan()
    return Bench(config, list(overrides or []), plan, device, amp, log).run()


def table(results: dict) -> str:
    """The human summary, ratios first."""
    train, data, inf = results["train"], results["data"], results["inference"]
    hw, features = results["hardware"], results["features"]
    e = results["config"]["encoder"]
    ratio = train["ratio"]
    lines = [
        (f"seqtasks bench: {results['recipe']} on {results['device']} ({results['threads']} threads, "
        f"amp {results['amp']}); emb {e['embedding_dim']}, hidden {e['hidden_size']}, "
        f"{'bi' if e['bidirectional'] else 'uni'}directional, batch {results['config']['train']['batch_size']}"),
        "",
        f"{'measure':<44} {'value':>24}",
        (f"{'train ratio toolkit/raw (min-median-max)':<44} "
        f"{ratio['min']:>8.3f}-{ratio['median']:.3f}-{ratio['max']:.3f}"),
        (f"{'inference/train tokens per s (batch 256)':<44} "
        f"{inf['batch_256']['tokens_per_s'] / train['toolkit_tokens_per_s']:>24.2f}"),
    ]
    for name, feature in features.items():
        lines.append(f"{'throughput cost of ' + name:<44} {feature['cost']:>24.1%}")
    for name, cell in results["cells"].items():
        if name != "lstm":
            lines.append(f"{'cell ' + name + ' time vs nn.LSTM':<44} {cell['slowdown_vs_lstm']:>23.2f}x")
    lines += [
        (f"{'padding waste bucketed / random':<44} "
        f"{data['padding_waste_bucketed']:>15.1%} / {data['padding_waste_random']:.1%}"),
        (f"{'train tokens/s toolkit / raw':<44} "
        f"{train['toolkit_tokens_per_s']:>15,.0f} / {train['raw_tokens_per_s']:,.0f}"),
        (f"{'inference tokens/s batch 256 / batch 1':<44} "
        f"{inf['batch_256']['tokens_per_s']:>15,.0f} / {inf['batch_1']['tokens_per_s']:,.0f}"),
        (f"{'inference sentences/s batch 256 / batch 1':<44} "
        f"{inf['batch_256']['sentences_per_s']:>15,.0f} / {inf['batch_1']['sentences_per_s']:,.0f}"),
        (f"{'share of fp32 matmul rate, train toolkit/raw':<44} "
        f"{hw['toolkit_train_share']:>15.1%} / {hw['raw_train_share']:.1%}"),
        f"{'matmul rate (fp32, GFLOP/s)':<44} {hw['matmul_fp32_flops_per_s'] / 1e9:>24.1f}",
        f"{'numericalize, once per run (s)':<44} {data['numericalize_s']:>24.2f}",
        f"{'peak resident memory (MB)':<44} {results['memory']['peak_rss_mb']:>24.0f}",
        "",
        "ms per training batch by T (batch 32): " + ", ".join(
            f"T={t}: {v['ms_per_batch']:.0f}" for t, v in results["scaling"]["by_length"].items()),
        "ms per training batch by batch size (T=50): " + ", ".join(
            f"B={b}: {v['ms_per_batch']:.0f}" for b, v in results["scaling"]["by_batch"].items()),
        f"FLOPs: {hw['formula']} = {hw['train_flops_per_token'] / 1e6:.2f} MFLOP/token (train)",
    ]
    return "\n".join(lines)
