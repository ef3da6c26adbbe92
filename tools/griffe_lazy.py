"""Griffe extension for the documentation build: make the lazily imported names visible.

``edgespace`` imports its heavy names on first use through a module-level
``_LAZY = {name: "module.path"}`` table and ``__getattr__``. Griffe reads the source without
importing it, so it cannot see those names; this extension reads the same table from the source
and adds each name as an alias of its definition, so that ``::: edgespace`` documents every name
in ``__all__``. Nothing is imported, and the table stays the one place that says where a name lives.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


def _lazy_table(node: ast.Module) -> dict[str, str]:
    for stmt in node.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id == "_LAZY":
            return ast.literal_eval(stmt.value)
    return {}


class LazyNames(griffe.Extension):
    """Turn a module's ``_LAZY`` table into aliases."""

    def __init__(self) -> None:
        super().__init__()
        self._tables: dict[str, dict[str, str]] = {}

    def on_module_members(self, *, node: ast.AST | griffe.ObjectNode, mod: griffe.Module, **kwargs: Any) -> None:
        if isinstance(node, ast.Module) and (table := _lazy_table(node)):
            self._tables[mod.path] = table
            self._apply(mod, table)

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        # submodules are attached after their parent's members: a lazy name that shares its name
        # with a subpackage wins, as ``__getattr__`` makes it at run time
        for path, table in self._tables.items():
            if path == pkg.path or path.startswith(pkg.path + "."):
                self._apply(loader.modules_collection[path], table)

    @staticmethod
    def _apply(mod: griffe.Module, table: dict[str, str]) -> None:
        for name, module in table.items():
            if name not in mod.members or mod.members[name].is_module:
                mod.set_member(name, griffe.Alias(name, f"{module}.{name}", parent=mod))
