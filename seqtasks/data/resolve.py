"""Find a dataset's files: $SEQTASKS_DATA_DIR/<name>/, then the download cache, then the source.

`sources.json` (generated from the datasets' MANIFESTs, checked by a test) names for each split
the file, the canonical upstream repo/commit/path and the sha256. Downloads are verified
before they land in the cache, and written atomically, so a killed download leaves nothing
that looks valid.
"""
from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from seqtasks.core.checkpoint import atomic_write
from seqtasks.core.errors import ConfigError, DataNotFoundError

DEFAULT_DOWNLOAD_URL = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class SplitSource:
    file: str  # the file name under $SEQTASKS_DATA_DIR/<name>/ (as in the MANIFEST)
    source_path: str  # path inside the upstream repository
    sha256: str  # of `file`
    examples: int
    source_sha256: str = ""  # of the upstream bytes, when `file` is a re-compressed copy

    @property
    def download_sha256(self) -> str:
        return self.source_sha256 or self.sha256

    @property
    def cache_name(self) -> str:
        return self.source_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class DatasetSource:
    name: str
    reader: str
    repo: str
    commit: str
    license: str
    splits: dict[str, SplitSource]

    def split(self, split: str) -> SplitSource:
        if split not in self.splits:
            raise ConfigError(f"dataset {self.name!r} has no split {split!r}; splits: {', '.join(self.splits)}")
        return self.splits[split]

    def url(self, split: str, base: str) -> str:
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{self.split(split).source_path}"


@dataclass(frozen=True)
class ResolvedFile:
    path: Path
    sha256: str
    origin: str  # "data_dir", "cache" or "download"


@cache
def all_sources() -> dict[str, DatasetSource]:
    raw = json.loads((Path(__file__).parent / "sources.json").read_text())
    return {
        name: DatasetSource(
            name=name,
            reader=entry["reader"],
            repo=entry["repo"],
            commit=entry["commit"],
            license=entry["license"],
            splits={split: SplitSource(**fields) for split, fields in entry["splits"].items()},
        )
        for name, entry in raw.items()
    }


def dataset_source(name: str) -> DatasetSource:
    sources = all_sources()
    if name not in sources:
        raise ConfigError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(sources))}")
    return sources[name]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get("SEQTASKS_CACHE_DIR") or Path.home() / ".cache" / "seqtasks")


# Any of these set to 1 keeps the toolkit from downloading a dataset, as they keep the Hugging Face libraries.
OFFLINE_FLAGS = ("SEQTASKS_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


def resolve_split(name: str, split: str) -> ResolvedFile:
    source = dataset_source(name)
    entry = source.split(split)
    data_dir = os.environ.get("SEQTASKS_DATA_DIR")
    if data_dir:
        for file_name in (entry.file, entry.cache_name):
            path = Path(data_dir) / name / file_name
            if path.is_file():
                return ResolvedFile(path, file_sha256(path), "data_dir")
    cached = cache_dir() / name / entry.cache_name
    if cached.is_file() and file_sha256(cached) == entry.download_sha256:
        return ResolvedFile(cached, entry.download_sha256, "cache")
    base = os.environ.get("SEQTASKS_DOWNLOAD_URL", DEFAULT_DOWNLOAD_URL)
    url = source.url(split, base)
    where = f"{data_dir}/{name}/{entry.file}" if data_dir else f"$SEQTASKS_DATA_DIR/{name}/{entry.file}"
    offline = next((flag for flag in OFFLINE_FLAGS if os.environ.get(flag, "").lower() in {"1", "true", "yes"}), None)
    if offline:
        raise DataNotFoundError(f"dataset {name!r} split {split!r}: {entry.file} is not at {where} nor in the cache "
                                f"({cached}), and {offline} is set, so it is not downloaded. Put the file at {where}.")
    try:
        download(url, cached, entry.download_sha256)
    except (OSError, ValueError) as error:
        raise DataNotFoundError(
            f"dataset {name!r} split {split!r}: {entry.file} is not at {where} nor in the cache ({cached}), "
            f"and downloading {url} failed ({error}). Put the file at {where}, "
            f"or set SEQTASKS_DATA_DIR to a folder holding {name}/{entry.file}."
        ) from error
    return ResolvedFile(cached, entry.download_sha256, "download")


def download(url: str, target: Path, sha256: str, timeout: float = 60.0) -> None:
    """Fetch url to target only if its bytes hash to sha256; the file appears whole or not at all."""
    def fetch_verified(temp_name: str) -> None:
        digest = hashlib.sha256()
        with open(temp_name, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if digest.hexdigest() != sha256:
            raise ValueError(f"checksum mismatch: expected sha256 {sha256}, got {digest.hexdigest()}")

    atomic_write(target, fetch_verified)
