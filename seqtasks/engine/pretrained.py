"""Encoders a recipe starts from, pretrained once per machine and cached.

`encoder.init=recipe:NAME` names a recipe (a language model on a corpus that holds none of the
target's dev text) instead of a run folder. The first run that needs it trains NAME's recipe with its
own defaults, as `seqtasks train NAME` would, into the cache ($SEQTASKS_CACHE_DIR/pretrained/NAME-KEY,
KEY a hash of that config and of any recipe it starts from in turn, so a changed recipe is pretrained
anew); every later run, seed and trial starts from the cached run. A killed pretraining continues where
it stopped on the next run, and a second process that needs the same encoder waits for the first instead
of training it twice.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from seqtasks.core.checkpoint import strict_json
from seqtasks.core.config import check_values, to_dict
from seqtasks.core.errors import ConfigError
from seqtasks.data.resolve import cache_dir
from seqtasks.engine.run import RunFolder

try:
    import fcntl
except ImportError:  # not POSIX (Windows): two processes may then pretrain the same encoder at once
    fcntl = None

PREFIX = "recipe:"

# name -> recipe module; set by the recipes package, which sits above the engine (recipes/__init__.py)
load_recipe: Callable[[str], ModuleType] | None = None


def init_folder(init: str) -> Path:
    """The run folder encoder.init names: the path itself, or a recipe's cached run, trained first if absent."""
    if not init.startswith(PREFIX):
        return Path(init)
    name = init.removeprefix(PREFIX)
    if load_recipe is None:
        raise ConfigError(f"encoder.init={init}: recipes are not loaded; import recipes first")
    module = load_recipe(name)
    config = module.Config()
    check_values(config)
    final = cached_folder(name, config)
    if not RunFolder(final).metrics.is_file():
        pretrain(module, config, final)
    print(f"encoder.init={init}: the encoder pretrained by the {name} recipe, cached in {final}")
    return final


def cached_folder(name: str, config) -> Path:
    """Where the cache keeps recipe `name`'s run for this config. A recipe that itself starts from
    `recipe:INNER` (sst5-lm-ft from sst5-lm) folds INNER's key into its own, so a changed inner recipe
    retrains both rather than leaving a cached run fine-tuned from the old encoder."""
    text = strict_json(to_dict(config), sort_keys=True)
    if config.encoder.init.startswith(PREFIX):
        inner = config.encoder.init.removeprefix(PREFIX)
        text += cached_folder(inner, load_recipe(inner).Config()).name
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    return cache_dir() / "pretrained" / f"{name}-{key}"


def pretrain(module: ModuleType, config, final: Path) -> None:
    """Train the recipe into the cache (`train_cached`)."""
    cost = getattr(module, "COST", "")
    train_cached(final, config.recipe, lambda folder, resume: module.main(config, folder, resume=resume),
                 f"the encoder, once for this machine{f' ({cost})' if cost else ''}")


def train_cached(final: Path, name: str, train: Callable[[Path, bool], object], what: str) -> None:
    """train(folder, resume) into a sibling of `final`, moved there when it has finished: one process at a
    time, and a killed training continues where it stopped."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError(f"{final.name} is not trained yet, and processes under torchrun would each train it: "
                          f"run once without torchrun first (it is cached), or pass encoder.init=RUN")
    final.parent.mkdir(parents=True, exist_ok=True)
    with one_at_a_time(final.with_name(f".{final.name}.lock"), name):
        if RunFolder(final).metrics.is_file():
            return
        partial = final.with_name(f".{final.name}.partial")
        resume = RunFolder(partial).trainer_state.is_file()
        if not resume:
            shutil.rmtree(partial, ignore_errors=True)
        print(f"{name}: {'continuing' if resume else 'training'} {what}, into {final}")
        train(partial, resume)
        shutil.rmtree(final, ignore_errors=True)  # a folder without metrics.json is no finished run
        os.replace(partial, final)


@contextmanager
def one_at_a_time(lock_path: Path, recipe: str) -> Iterator[None]:
    """Hold an exclusive lock on lock_path, waiting (and saying so) while another process holds it."""
    with open(lock_path, "w") as lock:
        if fcntl is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"{recipe}: another process is training this encoder; waiting for it")
                fcntl.flock(lock, fcntl.LOCK_EX)
        yield
