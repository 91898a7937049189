"""`seqtasks bench RECIPE --ddp N`: training throughput of N data-parallel processes against 1, on the
same global batches, and the share of a step spent in the gradient all-reduce. On CPU (gloo) the N
processes split the machine's cores, so expect no gain on a small machine: the point is the overhead.

Run under torchrun by `run_ddp_bench`; each rank times the same steps, rank 0 writes the JSON."""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist

from seqtasks.core.checkpoint import write_json
from seqtasks.core.config import RunConfig, apply_overrides, from_dict, to_dict
from seqtasks.engine.distributed import runtime
from seqtasks.engine.prepare import Member, prepare_data
from seqtasks.engine.training import epoch_batches, make_optimizer, train_epoch
from seqtasks.experiments.bench import BENCH_SHAPE
from seqtasks.tasks import build_model


def measure(config: RunConfig, steps: int) -> dict:
    """Tokens/s of `steps` training batches in this process (a rank under torchrun, or alone)."""
    here = runtime("cpu")
    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    prepared = prepare_data([Member("", config)], config.encoder)
    (member,), vocab = prepared.members, prepared.vocab
    split = member.train
    torch.manual_seed(config.train.seed)
    model = build_model(config, len(vocab), member.labels.labels)
    stepped = torch.nn.parallel.DistributedDataParallel(model) if here.world > 1 else model
    optimizer = make_optimizer(model, config.train)
    batches = epoch_batches(split, config.train, 0)[: steps + 2]
    train_epoch(stepped, optimizer, split, batches[:2], config.train, "cpu", "warm-up", here)
    started = time.perf_counter()
    train_epoch(stepped, optimizer, split, batches[2:], config.train, "cpu", "bench", here)
    seconds = time.perf_counter() - started
    tokens = int(sum(int(split.lengths[b].sum()) for b in batches[2:]))
    result = {"processes": here.world, "steps": len(batches) - 2, "seconds": seconds, "tokens_per_s": tokens / seconds}
    if here.world > 1:
        gradient = torch.zeros(sum(p.numel() for p in model.parameters()))
        dist.barrier()
        started = time.perf_counter()
        for _ in range(len(batches) - 2):
            dist.all_reduce(gradient)
        result["all_reduce_share"] = (time.perf_counter() - started) / seconds
    return result


def run_ddp_bench(config: RunConfig, overrides: list[str], processes: int, steps: int = 60) -> dict:
    """1 process (all threads) against `processes` gloo processes (threads split between them)."""
    config = apply_overrides(config, [*BENCH_SHAPE, *overrides])
    threads = torch.get_num_threads()
    single = measure(apply_overrides(config, [f"train.threads={threads}"]), steps)
    with tempfile.TemporaryDirectory() as folder:
        spec, out = Path(folder) / "config.json", Path(folder) / "result.json"
        shared = apply_overrides(config, [f"train.threads={max(1, threads // processes)}"])
        write_json(spec, to_dict(shared))
        subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
                        "-m", "seqtasks.experiments.ddp_bench", str(spec), str(out), str(steps)], check=True,
                       stdout=subprocess.DEVNULL)
        parallel = json.loads(out.read_text())
    return {"recipe": config.recipe, "single": single, "parallel": parallel,
            "speedup": parallel["tokens_per_s"] / single["tokens_per_s"]}


def ddp_table(result: dict) -> str:
    single, parallel = result["single"], result["parallel"]
    return (f"seqtasks bench {result['recipe']} --ddp {parallel['processes']} (gloo, CPU): "
            f"1 process {single['tokens_per_s']:,.0f} tokens/s, {parallel['processes']} processes "
            f"{parallel['tokens_per_s']:,.0f} tokens/s ({result['speedup']:.2f}x); the gradient all-reduce takes "
            f"{parallel['all_reduce_share']:.0%} of a step")


if __name__ == "__main__":  # a rank under torchrun: CONFIG_JSON OUT_JSON STEPS
    spec, out, steps = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    result = measure(from_dict(RunConfig, json.loads(Path(spec).read_text())), steps)
    if dist.get_rank() == 0:
        write_json(out, result)
