"""Griffe extension for the documentation build: make the lazily imported names visible, and
read the docstrings' Sphinx roles.

``edgespace`` imports its heavy names on first use through a module-level
``_LAZY = {name: "module.path"}`` table and ``__getattr__``. Griffe reads the source without
importing it, so it cannot see those names; this extension reads the same table from the source
and adds each name as an alias of its definition, so that ``::: edgespace`` documents every name
in ``__all__``. Nothing is imported, and the table stays the one place that says where a name lives.

The docstrings cite other objects with Sphinx roles (``:func:`~edgespace.estimate```); in the
site these become links where the target is documented, and code where it is not.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe


def _lazy_table(node: ast.Module) -> dict[str, str]:
    for stmt in node.body:
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id == "_LAZY":
            return ast.literal_eval(stmt.value)
    return {}


ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj):`(~?)([\w.]+)(?:\(\))?`")


def _role_to_ref(match: re.Match) -> str:
    short, target = match.groups()
    title = target.rsplit(".", 1)[-1] if short else target
    # an optional reference: a link when the target is in the site, plain code (no warning) when not
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


class LazyNames(griffe.Extension):
    """Turn a module's ``_LAZY`` table into aliases."""

    def __init__(self) -> None:
        super().__init__()
        self._tables: dict[str, dict[str, str]] = {}

    def on_module_members(self, *, node: ast.AST | griffe.ObjectNode, mod: griffe.Module, **kwargs: Any) -> None:
        if isinstance(node, ast.Module) and (table := _lazy_table(node)):
            self._tables[mod.path] = table
            self._apply(mod, table)

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = ROLE.sub(_role_to_ref, obj.docstring.value)

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
