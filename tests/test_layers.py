"""The dependency rule: each layer imports only the layers below it, and imports sit at the top
of the file (an in-function import is allowed only for an optional dependency, marked so)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# lowest first; a module may import its own layer and the ones before it
LAYERS = ["seqtasks.core", "seqtasks.data", "seqtasks.model", "heads", "seqtasks.tasks", "seqtasks.engine",
          "seqtasks.tools", "seqtasks.experiments", "seqtasks", "recipes", "seqtasks.api", "seqtasks.tune", "seqtasks.export", "seqtasks.cli", "seqtasks.__main__"]
PROJECT = ("seqtasks", "heads", "recipes")


def layer_of(module: str) -> int:
    """The rank of the longest layer prefix of a dotted module name."""
    matches = [i for i, layer in enumerate(LAYERS) if module == layer or module.startswith(layer + ".")]
    return max(matches, key=lambda i: len(LAYERS[i]))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (a recipe script's entry point may call the CLI)."""
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and getattr(node.test.left, "id", "") == "__name__")


def imports(tree: ast.Module):
    """(imported module, line, inside a function) for every import outside a __main__ guard."""
    def visit(node, in_function):
        if is_main_guard(node):
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, in_function
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno, in_function
        for child in ast.iter_child_nodes(node):
            yield from visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))
    yield from visit(tree, False)


FILES = sorted(p for package in PROJECT for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_import_only_downward_and_at_the_top(path):
    source = path.read_text()
    lines = source.splitlines()
    own = layer_of(module_name(path))
    for imported, line, in_function in imports(ast.parse(source)):
        if in_function:
            assert "optional" in lines[line - 1], (
                f"{path.relative_to(ROOT)}:{line}: import of {imported} inside a function; move it to the top "
                f"(only an optional dependency may be imported late, with a comment saying which)")
        if imported.split(".")[0] in PROJECT:
            assert layer_of(imported) <= own, (
                f"{path.relative_to(ROOT)}:{line}: {LAYERS[own]} imports {imported} ({LAYERS[layer_of(imported)]}), "
                f"a layer above it")


def test_the_rule_catches_an_upward_import():
    tree = ast.parse("from seqtasks.engine.run import load_run\n")
    ((imported, _, _),) = imports(tree)
    assert layer_of(imported) > layer_of("seqtasks.model.encoder")
