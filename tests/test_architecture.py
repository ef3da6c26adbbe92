"""The stage order of ``edgespace._stages`` holds: no module imports (at module level or inside a
function) from a later stage or from another subpackage's private module, and no two
subpackages import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from edgespace._stages import STAGES, stage_of

PACKAGE = Path(__file__).resolve().parents[1] / "edgespace"
STAGE_NAMES = list(STAGES)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str):
    """(line, imported module, names) for every import in ``path`` (the module ``module``),
    however deeply nested: module level, inside functions, classes and ``if`` blocks."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target, tuple(a.name for a in node.names)


def _subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _edges():
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        for line, target, names in _imports(path, module):
            if target == "edgespace" or target.startswith("edgespace."):
                yield path, module, line, target, names


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).with_suffix(".py").is_file() or (PACKAGE / rel / "__init__.py").is_file()


def _targets(target: str, names) -> list[str]:
    """The modules an import loads: ``from a.b import c`` is ``a.b.c`` where ``c`` is a module."""
    subs = [f"{target}.{n}" for n in names if _is_module(f"{target}.{n}")]
    return subs or [target]


def test_every_module_is_in_a_stage():
    for path in PACKAGE.rglob("*.py"):
        stage_of(_module_name(path))  # KeyError names a module no stage holds


def test_no_import_runs_against_the_stage_order():
    bad = []
    for path, module, line, target, names in _edges():
        for t in _targets(target, names):
            if stage_of(t) > stage_of(module):
                bad.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({STAGE_NAMES[stage_of(module)]}) imports "
                    f"{t} ({STAGE_NAMES[stage_of(t)]})"
                )
    assert not bad, "imports against the stage order:\n" + "\n".join(bad)


def test_no_import_reaches_into_another_subpackages_private_module():
    bad = []
    for path, module, line, target, names in _edges():
        own = _subpackage(module)
        for p in (t.split(".") for t in _targets(target, names)):
            # edgespace.<pkg>._private[...] where <pkg> is a subpackage other than the importer's
            if len(p) >= 3 and p[2].startswith("_") and p[1] != own and not p[1].startswith("_"):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {'.'.join(p)}")
    assert not bad, "imports of another subpackage's private module:\n" + "\n".join(bad)


def test_no_cycle_between_subpackages():
    graph: dict[str, set[str]] = {}
    for _path, module, _line, target, _names in _edges():
        a, b = _subpackage(module), _subpackage(target)
        if a and b and a != b:
            graph.setdefault(a, set()).add(b)
    seen: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if seen.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*trail[trail.index(nxt) :], nxt]))
            if nxt not in seen:
                visit(nxt, [*trail, nxt])
        seen[node] = 2

    for start in sorted(graph):
        if start not in seen:
            visit(start, [start])


def test_the_checks_see_imports_inside_functions_and_relative_ones(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "import edgespace.cli\n"
        "def f():\n"
        "    if True:\n"
        "        from edgespace.report import report\n"
        "    from ._calibrate import calibrate\n"
    )
    found = {(target, names) for _line, target, names in _imports(src, "edgespace.calibration._loop")}
    assert found == {
        ("edgespace.cli", ()),
        ("edgespace.report", ("report",)),
        ("edgespace.calibration._calibrate", ("calibrate",)),
    }
    assert _targets("edgespace.study", ("_storage", "search")) == ["edgespace.study._storage"]
    assert stage_of("edgespace.cost._estimate") < stage_of("edgespace.calibration")
