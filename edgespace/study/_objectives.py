"""Objectives (named metrics with a direction) and constraints (parsed strings or callables).

A constraint's value follows Optuna's convention: ``<= 0`` is feasible, and the size of a
positive value says how far the point is from feasibility (NSGA-II ranks infeasible trials by
it). Strings are parsed by a tiny grammar, never evaluated as Python:

    constraint := NAME | "not" NAME | NAME OP NUMBER | NUMBER OP NAME
    OP         := "<=" | "<" | ">=" | ">" | "==" | "!="
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edgespace.cost import ESTIMATE_COLUMNS
from edgespace.study._errors import SearchError

__all__ = ["OBJECTIVES", "METRICS", "Objective", "Constraint", "parse_objectives", "parse_constraints"]

#: Objective name → Optuna direction.
OBJECTIVES: dict[str, str] = {
    "accuracy": "maximize",
    "accuracy_per_joule": "maximize",
    "sustained_fps": "maximize",
    "fps": "maximize",
    "energy_mj": "minimize",
    "sustained_energy_mj": "minimize",
    "latency_ms": "minimize",
    "sustained_latency_ms": "minimize",
    "total_memory_mb": "minimize",
    "peak_activation_mb": "minimize",
}

_BOOLEAN = ("fits_memory", "runnable", "budget_feasible")
#: Every column a constraint may name: the Estimate's scalar fields plus the accuracy columns.
METRICS = tuple(c for c in ESTIMATE_COLUMNS) + (
    "accuracy",
    "accuracy_std",
    "accuracy_per_joule",
    "resolution",
    "width",
    "depth",
    "batch",
    "days_autonomy",
    "budget_daily_margin_j",
    "budget_margin_fraction",
    "budget_feasible",
)
#: A violated constraint whose metric is not finite (a point that cannot run) gets this value.
_NOT_FINITE_VIOLATION = 1e9


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # "maximize" | "minimize"

    @property
    def sign(self) -> float:
        """Multiply the metric by this to get a quantity to minimise (−1 for a maximised objective)."""
        return -1.0 if self.direction == "maximize" else 1.0

    def worst(self) -> float:
        return -math.inf if self.direction == "maximize" else math.inf


def parse_objectives(objectives: str | Sequence[str]) -> list[Objective]:
    """``"accuracy,energy_mj"`` or ``["accuracy", "energy_mj"]`` → objectives with their directions."""
    if isinstance(objectives, str):
        objectives = [o for o in (p.strip() for p in objectives.split(",")) if o]
    names = list(objectives)
    if not names:
        raise SearchError(f"objectives: none given; allowed: {', '.join(OBJECTIVES)}")
    out = []
    for name in names:
        if not isinstance(name, str) or name not in OBJECTIVES:
            raise SearchError(
                f"objective {name!r} is unknown; allowed: {', '.join(f'{k} ({v})' for k, v in OBJECTIVES.items())}"
            )
        out.append(Objective(name, OBJECTIVES[name]))
    if len({o.name for o in out}) != len(out):
        raise SearchError(f"objectives: {names} names one twice")
    return out


_OPS = {
    "<=": lambda x, c: x - c,
    "<": lambda x, c: x - c,
    ">=": lambda x, c: c - x,
    ">": lambda x, c: c - x,
    "==": lambda x, c: np.abs(x - c),
    "!=": lambda x, c: np.where(x != c, 0.0, 1.0),
}
_FLIP = {"<=": ">=", "<": ">", ">=": "<=", ">": "<", "==": "==", "!=": "!="}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_CMP = re.compile(rf"^\s*(?P<name>{_NAME})\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<num>{_NUMBER})\s*$")
_CMP_REV = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<name>{_NAME})\s*$")
_FLAG = re.compile(rf"^\s*(?P<neg>not\s+)?(?P<name>{_NAME})\s*$")


@dataclass(frozen=True)
class Constraint:
    """One constraint. ``text`` is the normalised string (``None`` for a callable), ``fn`` a
    callable ``fn(row: dict) -> bool | float`` (``True`` or ``<= 0`` = feasible)."""

    text: str | None
    name: str | None = None
    op: str | None = None
    value: float | None = None
    negate: bool = False
    fn: Callable[[dict], Any] | None = None

    def __str__(self) -> str:
        return self.text if self.text is not None else f"<callable {getattr(self.fn, '__name__', self.fn)!s}>"

    def violation(self, frame: pd.DataFrame) -> np.ndarray:
        """Optuna-style constraint values for every row (``<= 0`` feasible), always finite."""
        if self.fn is not None:
            out = np.empty(len(frame))
            for i, row in enumerate(frame.to_dict(orient="records")):
                v = self.fn(row)
                if isinstance(v, (bool, np.bool_)):
                    out[i] = 0.0 if v else 1.0
                else:
                    try:
                        out[i] = float(v)
                    except (TypeError, ValueError):
                        raise SearchError(
                            f"constraint {self}: returned {v!r}; return a bool (True = feasible) or a number (<= 0 = feasible)"
                        ) from None
        elif self.op is None:
            flag = frame[self.name].to_numpy().astype(bool)
            out = np.where(flag != self.negate, 0.0, 1.0)
        else:
            x = frame[self.name].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                out = np.asarray(_OPS[self.op](x, self.value), dtype=float)
            out = np.where(np.isfinite(x), out, _NOT_FINITE_VIOLATION)
        return np.where(np.isfinite(out), out, _NOT_FINITE_VIOLATION)


def _parse_one(text: str) -> Constraint:
    allowed = f"allowed: NAME OP NUMBER with OP one of <=, <, >=, >, ==, != (e.g. 'sustained_latency_ms <= 33'), or a flag ({', '.join(_BOOLEAN)}, 'not fits_memory'); NAME one of: {', '.join(METRICS)}"
    m = _CMP.match(text) or _CMP_REV.match(text)
    if m:
        name, op, num = m["name"], m["op"], float(m["num"])
        if m.re is _CMP_REV:
            op = _FLIP[op]
        if name not in METRICS or name in _BOOLEAN:
            raise SearchError(f"constraint {text!r}: {name!r} is not a numeric metric; {allowed}")
        if not math.isfinite(num):
            raise SearchError(f"constraint {text!r}: the bound must be finite")
        return Constraint(f"{name} {op} {num:g}", name=name, op=op, value=num)
    m = _FLAG.match(text)
    if m:
        if m["name"] not in _BOOLEAN:
            raise SearchError(f"constraint {text!r}: {m['name']!r} is not a flag; {allowed}")
        neg = bool(m["neg"])
        return Constraint(("not " if neg else "") + m["name"], name=m["name"], negate=neg)
    raise SearchError(f"constraint {text!r} cannot be parsed; {allowed}")


def parse_constraints(constraints: str | Callable | Sequence[str | Callable] | None) -> list[Constraint]:
    """Strings (see the module docstring) and/or callables ``fn(row) -> bool | float``."""
    if constraints is None:
        return []
    if isinstance(constraints, str) or callable(constraints):
        constraints = [constraints]
    out = []
    for c in constraints:
        if isinstance(c, Constraint):
            out.append(c)
        elif isinstance(c, str):
            out.append(_parse_one(c))
        elif callable(c):
            out.append(Constraint(None, fn=c))
        else:
            raise SearchError(f"constraint {c!r}: give a string like 'energy_mj <= 70' or a callable fn(row) -> bool")
    return out
