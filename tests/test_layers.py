"""The one-way layers of DESIGN.md, enforced: an AST walk over src/vaekit finds every import of a vaekit
module and checks it against the layer order; and importing a layer really does not load the
layers above it.

    errors  <-  types, distributions, runtime  <-  data, models, objectives  <-  run  <-  training
            <-  evaluation, generation  <-  commands  <-  cli  <-  __main__

``run`` sits below ``training`` because the trainer writes the run directory through it
(``run.layout``); ``run``, ``evaluation`` and ``generation`` never import ``training``, and nothing
but ``__main__`` imports ``cli``. Imports under ``if TYPE_CHECKING:`` are annotations only and
are not counted.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src" / "vaekit"
BASE = {"errors", "types", "distributions", "runtime"}
ALLOWED = {  # layer -> the layers it may import (besides itself)
    "errors": set(),
    "types": {"errors"},
    "distributions": {"errors"},
    "runtime": {"errors"},
    "data": {"errors", "runtime"},
    "models": BASE,
    "objectives": BASE,
    "run": BASE | {"data", "models"},
    "training": BASE | {"data", "objectives", "run"},  # not models: the loop knows the objective's signature, not what a VAE is
    "evaluation": BASE | {"data", "models", "objectives", "run"},
    "generation": BASE | {"data", "models", "run"},
    "commands": BASE | {"data", "models", "objectives", "run", "training", "evaluation", "generation"},
    "serve": BASE | {"data", "models", "run", "evaluation", "generation", "commands"},  # the explorer, beside the CLI
    "cli": BASE | {"data", "models", "objectives", "run", "training", "evaluation", "generation", "commands", "serve"},
    "__main__": {"cli"},
    "__init__": set(),  # the package exports its API lazily, by module name strings
}


def _layer(module: str) -> str:
    """vaekit.data.config -> data; vaekit.types -> types; vaekit -> __init__."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, root: Path) -> list[tuple[int, str]]:
    """(line, vaekit module) of every import outside ``if TYPE_CHECKING:`` blocks, at any depth."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "vaekit")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "vaekit" and node.level == 0:
            for a in node.names:  # `from vaekit import run` imports the module vaekit.run
                sub = f"{node.module}.{a.name}"
                is_module = (root.parent / Path(*sub.split("."))).with_suffix(".py").is_file() or (
                    root.parent / Path(*sub.split("."))
                ).is_dir()
                found.append((node.lineno, sub if is_module else node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def violations(root: Path) -> list[str]:
    """Every import in the package at ``root`` that goes against ``ALLOWED``."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        module = _module_of(path, root)
        layer = _layer(module)
        assert layer in ALLOWED, f"{path}: a module in no layer ({layer}); add it to ALLOWED and to DESIGN.md"
        for line, target in _imports(ast.parse(path.read_text()), root):
            wanted = _layer(target)
            if wanted != layer and wanted not in ALLOWED[layer]:
                problems.append(f"{path.relative_to(root.parent)}:{line}: {layer} imports {target} ({wanted})")
    return problems


def test_no_module_imports_against_the_layer_order():
    assert violations(SRC) == []


@pytest.mark.parametrize(
    ("where", "line", "expected"),
    [
        (
            "evaluation/likelihood.py",
            "from vaekit.training.trainer import Trainer",
            "evaluation imports vaekit.training.trainer (training)",
        ),
        ("generation/draw.py", "from vaekit import cli", "generation imports vaekit.cli (cli)"),
        ("data/folder.py", "import vaekit.models.vae", "data imports vaekit.models.vae (models)"),
        ("objectives/elbo.py", "from vaekit.models import VAE", "objectives imports vaekit.models (models)"),
        (
            "run/loading.py",
            "def f():\n    from vaekit.training import TrainConfig",
            "run imports vaekit.training (training)",
        ),  # a local import counts too
    ],
)
def test_a_forbidden_import_is_found(tmp_path, where, line, expected):
    copy = tmp_path / "vaekit"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / where, "a") as f:
        f.write(f"\n{line}\n")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(f"vaekit/{where}:") and found[0].endswith(expected), found


def test_annotation_only_imports_are_not_counted(tmp_path):
    copy = tmp_path / "vaekit"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / "types.py", "a") as f:
        f.write("\nif TYPE_CHECKING:\n    from vaekit.models import LatentModel\n")
    assert violations(copy) == []


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(m for m in sys.modules if m == 'vaekit' or m.startswith('vaekit.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return set(done.stdout.split())


def test_importing_a_layer_loads_nothing_above_it():
    assert _loaded_after("import vaekit.types") == {"vaekit", "vaekit.types"}
    below = _loaded_after("import vaekit.run, vaekit.evaluation, vaekit.generation")
    assert not any(m.startswith(("vaekit.training", "vaekit.commands", "vaekit.cli")) for m in below), sorted(below)
