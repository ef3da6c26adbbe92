"""Functions shared by the CLI commands."""

from __future__ import annotations


def parse_families(text: str) -> list[str]:
    """``--families a,b``: the registered families named, or a ValueError naming the unknown ones."""
    from edgespace.archs import list_families

    families = [f.strip() for f in text.split(",") if f.strip()]
    bad = [f for f in families if f not in list_families()]
    if bad or not families:
        raise ValueError(f"--families {text!r}: unknown {bad}; allowed: {', '.join(list_families())}")
    return families


def positive_seconds(text: str) -> float:
    """argparse ``type=`` for a duration: a finite number of seconds > 0 (``nan``, ``inf``, 0 and
    negatives are refused, one line, exit 2)."""
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number; allowed: seconds > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a finite number of seconds > 0")
    return value
