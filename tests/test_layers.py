"""The package's shape: module sizes, the limb stage's function sizes, honest public signatures, one-way imports."""

from __future__ import annotations

import ast
import re
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tryon_sdk"


def modules(under: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "weights" not in p.parts)


def functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in modules() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these modules: {long}"


def test_limb_stage_functions_are_short_and_take_few_parameters():
    too_long, too_many = {}, {}
    for path in modules(PACKAGE / "limbs"):
        for fn in functions(ast.parse(path.read_text())):
            lines = fn.end_lineno - fn.lineno + 1
            a = fn.args
            params = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs if x.arg not in ("self", "cls")]
            if lines > 60:
                too_long[f"{path.name}:{fn.name}"] = lines
            if len(params) > 6:
                too_many[f"{path.name}:{fn.name}"] = len(params)
    assert not too_long and not too_many, (too_long, too_many)


def _public_annotations(path: Path) -> dict[str, list[str]]:
    """Annotations of the public functions and methods of public classes in ``path``."""
    tree = ast.parse(path.read_text())
    out: dict[str, list[str]] = {}

    def visit(fn: ast.FunctionDef | ast.AsyncFunctionDef, owner: str) -> None:
        if fn.name.startswith("_") and fn.name != "__init__":
            return
        a = fn.args
        notes = [x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg] if x is not None]
        notes = [n for n in notes if n is not None] + ([fn.returns] if fn.returns is not None else [])
        out[f"{owner}{fn.name}"] = [ast.unparse(n) for n in notes]

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            visit(node, "")
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    visit(item, f"{node.name}.")
    return out


@pytest.mark.parametrize("name", ["parser.py", "predictor.py", "frame_path.py", "video/stream/session.py", "video/stream/live.py", "video/stream/options.py"])
def test_public_signatures_name_their_types(name):
    uses_any = {
        fn: notes for fn, notes in _public_annotations(PACKAGE / name).items()
        if any(re.search(r"\bAny\b", n) for n in notes)
    }
    assert not uses_any, f"{name}: public signatures typed Any: {uses_any}"


@pytest.mark.skipif(importlib.util.find_spec("importlinter") is None, reason="import-linter is a dev dependency")
def test_imports_only_go_down_the_layers():
    root = PACKAGE.parent
    done = subprocess.run([sys.executable, "-m", "importlinter.cli", "--config", str(root / ".importlinter")],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stdout[-3000:]
