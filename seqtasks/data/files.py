"""Reading data files as bytes and lines: gzip, and the encodings the datasets really use."""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

from seqtasks.core.errors import DataFormatError, DataNotFoundError


def read_bytes(path: Path | str) -> bytes:
    """A file's bytes, gunzipped when it ends in .gz; a damaged or empty file is one error naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no such data file: {path}" + (" (it is a folder)" if path.is_dir() else ""))
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise DataFormatError(path, 1, f"not a complete gzip file ({error}); was it truncated?") from None
    if not data.strip():
        raise DataFormatError(path, 1, "the file is empty" + (" once decompressed" if path.suffix == ".gz" else ""))
    return data


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
