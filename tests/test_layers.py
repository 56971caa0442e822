"""Imports run one way: a layer imports only itself and the layers below it.

Every module under ``src/safestreets`` is read with ``ast`` and every import in it is checked, including
those inside functions and ``if TYPE_CHECKING:`` blocks: a lazy import is still a dependency. Each module
must be placed in a layer by :data:`MODULE_LAYERS`, so a new package (``web/``, ``db/``) fails here until
someone decides where it sits.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import safestreets

#: Lowest first. Layers in one tuple are siblings: neither imports the other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("base",),  # pure helpers any layer may use
    ("sources",),  # read and validate only; return Arrow tables, write nothing
    ("synthetic",),  # the demo city generator; may import sources
    ("store", "db"),  # DuckDB: every write, loads, stored results; db: accounts, audit, registers
    ("geo",),  # units, export
    ("forecast",),
    ("evaluate",),
    ("trends",),
    ("plan",),
    ("accountability", "intel", "anpr"),  # registers and analyses over stored data; anpr on two engines
    ("impact",),  # evaluations of operations and interventions; reads the accountability registers
    ("report",),
    ("api",),
    ("cli", "web", "intake"),  # intake: the public reporting service, its own process
)
RANK = {layer: rank for rank, group in enumerate(LAYERS) for layer in group}

#: Module (or package, with everything under it) -> layer; the longest matching name wins. The
#: package root ``safestreets`` matches only itself, so an unplaced module is never taken for base.
MODULE_LAYERS: dict[str, str] = {
    "safestreets": "base",
    "safestreets.errors": "base",
    "safestreets.config": "base",
    "safestreets.vocab": "base",
    "safestreets.harm": "base",
    "safestreets.timespec": "base",
    "safestreets.geo.project": "base",
    "safestreets.sources": "sources",
    "safestreets.synthetic": "synthetic",
    "safestreets.store": "store",
    "safestreets.db": "db",
    "safestreets.geo": "geo",
    "safestreets.forecast": "forecast",
    "safestreets.evaluate": "evaluate",
    "safestreets.trends": "trends",
    "safestreets.plan": "plan",
    "safestreets.accountability": "accountability",
    "safestreets.intel": "intel",
    "safestreets.anpr": "anpr",
    "safestreets.impact": "impact",
    "safestreets.report": "report",
    "safestreets.api": "api",
    "safestreets.cli": "cli",
    "safestreets.__main__": "cli",
    "safestreets.web": "web",
    "safestreets.intake": "intake",
}

#: Deliberate exceptions: (module, the function the import sits in, the layer it may reach). The package
#: root answers ``from safestreets import Workspace`` through a module ``__getattr__`` that imports the API
#: only when that name is asked for, so ``import safestreets`` (and ``__version__``, which every layer
#: reads) stays base.
EXCEPTIONS: set[tuple[str, str | None, str | None]] = {("safestreets", "__getattr__", "api")}

ROOT = Path(safestreets.__file__).parent


def layer_of(module: str) -> str | None:
    if module == "safestreets":
        return MODULE_LAYERS["safestreets"]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        layer = MODULE_LAYERS.get(".".join(parts[:n]))
        if layer is not None:
            return layer
    return None


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("safestreets", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _nodes(node: ast.AST, function: str | None = None) -> Iterator[tuple[ast.AST, str | None]]:
    """Every node under ``node`` with the name of the function it sits in (None at module level)."""
    for child in ast.iter_child_nodes(node):
        yield child, function
        inner = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
        yield from _nodes(child, inner)


def imports(module: str, path: Path, known: set[str]) -> Iterator[tuple[int, str, str, str | None]]:
    """(line, imported module, as written, enclosing function) for every import of a safestreets module.

    ``from X import Y`` names module ``X.Y`` where that is a module, else ``X``.
    """
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, function in _nodes(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "safestreets":
                    yield node.lineno, alias.name, f"import {alias.name}", function
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "safestreets":
                continue
            written = f"from {'.' * node.level}{node.module or ''} import "
            for alias in node.names:
                target = f"{source}.{alias.name}"
                yield node.lineno, target if target in known else source, written + alias.name, function


def test_every_module_has_a_layer() -> None:
    unplaced = [m for m in modules() if layer_of(m) is None]
    assert not unplaced, (
        "modules in no layer (add them to MODULE_LAYERS in tests/test_layers.py, deliberately): "
        + ", ".join(unplaced)
    )


def test_imports_run_down_the_layers() -> None:
    found = modules()
    known = set(found)
    bad = []
    for module, path in found.items():
        layer = layer_of(module)
        if layer is None:
            continue  # test_every_module_has_a_layer names it
        for line, target, written, function in imports(module, path, known):
            to = layer_of(target)
            if (module, function, to) in EXCEPTIONS:
                continue
            if to is None:
                bad.append(f"{module}:{line}: '{written}': {target} is in no layer")
            elif to != layer and RANK[to] >= RANK[layer]:
                where = "beside" if RANK[to] == RANK[layer] else "above"
                bad.append(f"{module} ({layer}):{line}: '{written}' reaches {to}, {where} {layer}")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_private_names_cross_modules() -> None:
    """A name with a leading underscore is its module's own: sharing it means making it public."""
    found = modules()
    bad = []
    for module, path in found.items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and (
                node.level or (node.module or "").startswith("safestreets")
            ):
                for alias in node.names:
                    name = alias.name
                    if name.startswith("_") and not (name.startswith("__") and name.endswith("__")):
                        bad.append(f"{module}:{node.lineno}: imports {name} from {node.module}")
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_the_layer_map_itself() -> None:
    """The map names only known layers, and names resolve to the layer meant."""
    assert set(MODULE_LAYERS.values()) <= set(RANK)
    assert layer_of("safestreets.sources.policeuk") == "sources"
    assert layer_of("safestreets.synthetic.city") == "synthetic"
    assert layer_of("safestreets.geo.project") == "base"
    assert layer_of("safestreets.geo.units") == "geo"
    assert layer_of("safestreets.db.audit") == "db"
    assert layer_of("safestreets.nowhere") is None
