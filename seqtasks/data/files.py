"""Reading data files as bytes and lines: gzip, and the encodings the datasets really use."""
from __future__ import annotations

import gzip
from pathlib import Path

from seqtasks.core.errors import DataNotFoundError


def read_bytes(path: Path | str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no such data file: {path}")
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def decode_line(raw: bytes) -> str:
    """UTF-8 where valid, else Windows-1252 (mr, subj, trec), else latin-1.

    Files are split on b"\\n" before decoding: decoding latin-1 first and calling
    splitlines() would break lines at the 0x85 (NEL) bytes that cp1252 text contains.
    """
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")
