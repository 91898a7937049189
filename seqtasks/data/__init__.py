"""Data: resolve files, read original formats, vocabularies, batching, splits."""
import datasets

datasets.disable_progress_bars()  # tiny in-memory maps; the training bar is the one that matters
