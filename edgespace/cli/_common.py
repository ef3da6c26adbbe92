"""Helpers shared by the CLI commands."""

from __future__ import annotations


def parse_families(text: str) -> list[str]:
    """``--families a,b``: the registered families named, or a ValueError naming the unknown ones."""
    from edgespace.archs import list_families

    families = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in families if f not in list_families()]
    if bad or not families:
        raise ValueError(f"--families {text!r}: unknown {bad}; allowed: {', '.join(list_families())}")
    return families
