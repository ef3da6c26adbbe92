"""``edgespace repair --storage journal:PATH``: back up a damaged journal file and cut it to its
last complete entry (a search that finds a damaged tail stops and names this command)."""

from __future__ import annotations

import json


def configure(sub) -> None:
    p = sub.add_parser(
        "repair",
        help="back up a damaged search journal and cut it to its last complete entry",
        description="A journal whose last entry was cut short (a process killed mid-write) or holds "
        "garbage is copied to PATH.<time>.bak and truncated to its last complete entry. "
        "Damage in the middle is cut only with --cut-at-damage (the entries after it "
        "cannot be replayed anyway). A sound journal is left as it is.",
    )
    p.add_argument("--storage", required=True, help="journal:PATH (or a path ending in .journal/.jsonl/.log)")
    p.add_argument(
        "--cut-at-damage",
        action="store_true",
        help="also cut damage in the middle of the file (drops every entry from the damaged line on)",
    )
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from edgespace import SearchError
    from edgespace.study import repair_journal

    text = args.storage
    if not (text.startswith("journal:") or text.endswith((".journal", ".jsonl", ".log"))):
        raise SearchError(
            f"repair: --storage {text!r}: only journal files can be repaired (journal:PATH); "
            "SQLite and PostgreSQL keep their own transaction logs"
        )
    report = repair_journal(text, cut_at_damage=args.cut_at_damage)
    if args.json:
        print(json.dumps(report))
    elif report["backup"] is None:
        print(f"{report['path']}: sound ({report['kept_entries']} entries); nothing to repair")
    else:
        print(
            f"{report['path']}: line {report['line']}: {report['problem']}; cut {report['dropped_lines']} line(s), "
            f"kept {report['kept_entries']} entries; backup: {report['backup']}"
        )
    return 0
