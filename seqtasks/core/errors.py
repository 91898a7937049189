"""The project's error types. The CLI prints these as one line; anything else is a bug and keeps
its traceback."""
from __future__ import annotations

from pathlib import Path


class SeqtasksError(Exception):
    """Something the user can fix: a config key, a data file, a run folder."""


class ConfigError(SeqtasksError, ValueError):
    pass


class DataFormatError(SeqtasksError, ValueError):
    """A malformed input file; the message starts with `path:line:`."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line = str(path), line


class DataNotFoundError(SeqtasksError, FileNotFoundError):
    pass


class UnknownLabelError(SeqtasksError, ValueError):
    pass


class CheckpointError(SeqtasksError, ValueError):
    pass


class RunFolderError(SeqtasksError, FileExistsError):
    pass
