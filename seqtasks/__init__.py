"""seqtasks: one shared LSTM encoder, interchangeable task heads, recipes on public datasets.

Layers, each importing only the ones before it (tests/test_layers.py checks this):
core -> data -> model -> heads (top-level package) -> tasks -> engine -> tools -> experiments -> cli.
"""
import importlib

from seqtasks.model.encoder import EncoderOutput

__version__ = "0.1.0"
# Names from upper layers resolve on first use: `heads` imports seqtasks.core, which runs this file,
# so importing the engine here would run in the middle of importing `heads`.
# LSTMEncoder comes through the engine too, which teaches it to read run folders (from_pretrained).
LAZY = {"LSTMEncoder": "seqtasks.engine.run", "load_run": "seqtasks.engine.run", "LoadedRun": "seqtasks.engine.run", "train": "seqtasks.api",
        "Run": "seqtasks.api"}
__all__ = ["EncoderOutput", "LSTMEncoder", "LoadedRun", "Run", "__version__", "load_run", "train"]


def __getattr__(name: str):
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'seqtasks' has no attribute {name!r}")
