"""One encoder, a head per task, trained together: your own choice of tasks, each a recipe or a TOML
file of one (your own data), e.g.

    seqtasks train multi-task --set tasks=ud-pos,conll-ner --set sampling=temperature
    seqtasks train --config multi.toml      # recipe = "multi-task", tasks = "sst2,tickets.toml", weights = "1,2"

Each task keeps its own data and head; the encoder and training settings are this config's.
"""
from dataclasses import dataclass
from pathlib import Path

from recipes import load_recipe
from seqtasks.core.config import MultiTaskConfig, merge, read_config_file
from seqtasks.core.errors import ConfigError
from seqtasks.engine import multitask
from seqtasks.engine.sweep import split_list

DESCRIPTION = "several tasks, one shared encoder: --set tasks=RECIPE,RECIPE or TOML files (your own data)"
DATASET, TASK = "the tasks'", "several"


@dataclass
class Config(MultiTaskConfig):
    recipe: str = "multi-task"


def member(spec: str, config: MultiTaskConfig, weight: float) -> multitask.Member:
    """A task by recipe name, or a TOML/JSON file naming its recipe and any of its settings."""
    path = Path(spec)
    if path.suffix in (".toml", ".json"):
        data = read_config_file(path)
        name, recipe = path.stem, data.get("recipe")
        if not recipe:
            raise ConfigError(f"{spec}: name the task's recipe, e.g. recipe = \"text-classification\"")
    else:
        name, recipe, data = spec, spec, {}
    module = load_recipe(recipe)
    if not hasattr(module.Config(), "task"):
        raise ConfigError(f"tasks: {recipe} is not a single-task recipe")
    task_config = merge(module.Config(), {k: v for k, v in data.items() if k != "recipe"}, where=spec)
    task_config.encoder, task_config.train = config.encoder, config.train  # one encoder, one schedule
    return multitask.Member(name, task_config, weight)


def members(config: MultiTaskConfig) -> list[multitask.Member]:
    specs = split_list(config.tasks)
    weights = [float(w) for w in split_list(config.weights)] or [1.0] * len(specs)
    if len(weights) != len(specs):
        raise ConfigError(f"weights={config.weights!r}: one weight per task ({len(specs)} tasks: {config.tasks})")
    return [member(spec, config, weight) for spec, weight in zip(specs, weights)]


def main(config: MultiTaskConfig, run_dir: Path, resume: bool = False) -> dict:
    return multitask.run(config, members(config), run_dir, resume=resume)


if __name__ == "__main__":
    from seqtasks.cli import recipe_entry

    recipe_entry("multi-task")
