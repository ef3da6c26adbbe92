"""The ``edgespace`` command line: a thin layer over the public API.

Each command lives in its own module that exposes ``configure(subparsers)``; it registers its
parser and sets ``func`` (args → exit code). Bad input (any :class:`EdgespaceError`, and any OS
error on a path the user gave) exits 2 with one line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from edgespace import EdgespaceError

__all__ = ["main", "COMMAND_MODULES", "UsageError", "one_line"]

#: Modules that each add one command (or group of commands); new commands add a line here.
COMMAND_MODULES = (
    "edgespace.cli._layers",
    "edgespace.cli._profiles",
    "edgespace.cli._estimate",
    "edgespace.cli._budget",
    "edgespace.cli._export",
    "edgespace.cli._coverage",
    "edgespace.cli._calibrate",
    "edgespace.cli._search",
    "edgespace.cli._report",
    "edgespace.cli._repair",
)


class UsageError(EdgespaceError, ValueError):
    """Bad command-line input."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too)
        raise UsageError(f"{self.prog}: {message}")


def _make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="edgespace", description="Design-space exploration of vision models on edge devices.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMAND_MODULES:
        importlib.import_module(module).configure(sub)
    return parser


#: Longest error line printed (a message quoting a huge value is cut, never wrapped).
MAX_ERROR_CHARS = 600


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` as one line of at most ``limit`` characters (newlines shown as ``\\n``)."""
    text = str(text).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def os_error_text(exc: OSError) -> str:
    """An OS error on a user path as one line: ``PATH: what went wrong``."""
    what = exc.strerror or type(exc).__name__
    if exc.filename is not None and exc.filename2 is not None:
        return f"{exc.filename!s} -> {exc.filename2!s}: {what}"
    if exc.filename is not None:
        return f"{exc.filename!s}: {what}"
    return str(exc) or what


def main(argv: list[str] | None = None) -> int:
    try:
        args = _make_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except (EdgespaceError, ValueError) as exc:
        print(f"edgespace: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `edgespace layers ... | head`
        return 0
    except OSError as exc:  # a path the user gave: unreadable, unwritable, too long, a directory
        print(f"edgespace: error: {one_line(os_error_text(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("edgespace: interrupted", file=sys.stderr)
        return 130


def run() -> None:  # pragma: no cover - console entry point
    sys.exit(main())
