"""Helpers shared by the CLI commands."""

from __future__ import annotations


def jsonable(value):
    """``json.dumps(default=...)``: numpy scalars become Python numbers; anything else is an error."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_families(text: str) -> list[str]:
    """``--families a,b``: the registered families named, or a ValueError naming the unknown ones."""
    from edgespace.archs import list_families

    families = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in families if f not in list_families()]
    if bad or not families:
        raise ValueError(f"--families {text!r}: unknown {bad}; allowed: {', '.join(list_families())}")
    return families
