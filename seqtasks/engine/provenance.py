"""The provenance record every result is written with: the config, seed, data checksums, library
versions and machine that produced it, so anyone can reproduce it. One copy, used by every run,
sweep and experiment."""
from __future__ import annotations

import dataclasses
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from seqtasks.core.checkpoint import write_json

PACKAGES = ("seqtasks", "torch", "datasets", "scikit-learn", "numpy", "safetensors", "seqeval", "conllu")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return versions


def provenance(config: Any, seed: Any, data: Any) -> dict:
    return {"config": dataclasses.asdict(config), "seed": seed, "data": data, "versions": library_versions(),
            "machine": f"{platform.machine()} {platform.system()}"}


def write_record(path: Path, results: dict, config: Any, seed: Any, data: Any) -> dict:
    """results + provenance, written atomically as JSON; returns the record."""
    record = {"recipe": config.recipe, **results, **provenance(config, seed, data)}
    write_json(path, record)
    return record
