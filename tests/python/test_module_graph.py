"""The modules of the amends package import one another without a cycle, and Book classifies every Ledger operation."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
from pathlib import Path

import pytest

import amends
import amends.book

PACKAGE = Path(amends.__file__).parent


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The amends submodules a module imports, anywhere in it (at module level or inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    # A package a module is in (import amends, amends.importers) is left out: the graph is of the modules.
    return {m for m in found if m in known and m != name and not name.startswith(m + ".")}


def test_no_module_imports_one_that_imports_it_back() -> None:
    mods = modules()
    graph = {name: imports_of(name, path, set(mods)) for name, path in mods.items() if name != "amends"}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]) if nxt in trail else nxt)
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert "amends.book" not in graph["amends.desk"]


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    names = [n for n in modules() if n != "amends" and not n.endswith("__main__")]
    random.Random(7).shuffle(names)
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    for name in names:
        done = subprocess.run([sys.executable, "-c", code, name, *names], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_book_says_how_it_runs_every_ledger_operation() -> None:
    classified = amends.book._classified(amends.Ledger)
    public = {n for n in dir(amends._core.Ledger) if not n.startswith("__") and not n.startswith("_pybind11")}
    assert public <= classified.keys()
    assert classified["post"] == "write" and classified["balance"] == "read"

    class Wider(amends.Ledger):
        def forget_me(self) -> None: ...

    with pytest.raises(TypeError, match="forget_me"):
        amends.book._classified(Wider)


def test_a_desk_uses_its_book_through_the_protocol(empty_book: amends.Ledger) -> None:
    desk = amends.Desk(empty_book)
    assert desk.core is desk._core
    assert desk.transaction("desk", lambda: 42) == 42 and desk.transaction(lambda: 7) == 7
    desk.sync()
    assert isinstance(empty_book, amends.desk.StoredBook) == isinstance(empty_book, amends.Book)
