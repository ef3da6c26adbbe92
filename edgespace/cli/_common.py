"""Functions shared by the CLI commands."""

from __future__ import annotations

import re


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
        value = float(_plain(text, "number of seconds", "a finite number of seconds > 0"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a number; allowed: seconds > 0") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: a finite number of seconds > 0")
    return value


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _plain(text: str, what: str, allowed: str = "a finite number") -> str:
    import argparse

    if not _NUMBER.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"invalid {what} value: {text!r}; allowed: {allowed}, in ASCII digits 0-9 (no '_' separators, no other "
            "scripts' digits)"
        )
    return text.strip()


def int_option(text: str) -> int:
    """argparse ``type=`` for an integer: ASCII digits only (``int()`` also takes ``1_000`` and
    Arabic-Indic digits, which an option should not)."""
    import argparse

    value = _plain(text, "int")
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None


def float_option(text: str) -> float:
    """argparse ``type=`` for a number: ASCII digits, optional sign, point and exponent; ``nan``
    and ``inf`` are refused."""
    return float(_plain(text, "float"))
