"""`seqtasks bench --data`: how fast a user's large file becomes training batches, and in how much
memory. A CSV of N rows (SST-2 training sentences repeated, raw text and a label) is written once, then
read, tokenized, counted into a vocabulary and encoded the way `seqtasks train text-classification`
does it. Run it in a process of its own: the peak resident memory is the process's."""
from __future__ import annotations

import csv
import resource
import time
from collections.abc import Callable
from pathlib import Path

from seqtasks.core.config import DataConfig, EncoderConfig, RunConfig
from seqtasks.data.readers import read_labeled_lines
from seqtasks.data.resolve import resolve_split
from seqtasks.engine.prepare import Member, prepare_data, read_parts


def write_corpus(path: Path, rows: int) -> None:
    source = read_labeled_lines(resolve_split("sst2", "train").path)
    texts, labels = [" ".join(t) for t in source["tokens"]], list(source["label"])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(rows):
            writer.writerow([texts[i % len(texts)], labels[i % len(labels)]])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_data_bench(rows: int, folder: Path, log: Callable[[str], None] = print) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"corpus-{rows}.csv"
    if not path.is_file():
        log(f"bench --data: writing {rows:,} rows to {path}")
        write_corpus(path, rows)
    config = RunConfig(recipe="text-classification", data=DataConfig(dataset="", train=str(path)),
                       encoder=EncoderConfig(vectors=""))
    before = peak_rss_mb()
    clock = time.perf_counter()
    parts = read_parts(config)
    read_s = time.perf_counter() - clock
    clock = time.perf_counter()
    prepared = prepare_data([Member("", config)], config.encoder, [parts])
    encode_s = time.perf_counter() - clock
    vocab = prepared.vocab
    split = prepared.members[0].train
    rows = len(split) + len(prepared.members[0].dev)
    tokens = int(split.lengths.sum()) + int(prepared.members[0].dev.lengths.sum())
    total = read_s + encode_s
    return {"rows": rows, "tokens": tokens, "file_mb": round(path.stat().st_size / 2**20, 1),
            "read_s": round(read_s, 2), "encode_s": round(encode_s, 2),
            "total_s": round(total, 2), "rows_per_s": round(len(split) / total), "tokens_per_s": round(tokens / total),
            "peak_rss_mb": round(peak_rss_mb()), "rss_before_mb": round(before), "vocabulary": len(vocab)}


def data_table(result: dict) -> str:
    return "\n".join([
        f"seqtasks bench --data: {result['rows']:,} rows, {result['tokens']:,} tokens ({result['file_mb']} MB CSV)",
        f"read + tokenize {result['read_s']} s, vocabulary + labels + encode {result['encode_s']} s",
        (f"{result['rows_per_s']:,} rows/s, {result['tokens_per_s']:,} tokens/s; peak resident memory "
         f"{result['peak_rss_mb']:,} MB"),
    ])
