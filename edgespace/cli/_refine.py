"""``edgespace search ... --confirm K --refine R``: after the search, confirm K front points per
round, fold the runs into the calibration, search again, for at most R rounds (see
:meth:`edgespace.study.SearchResult.refine`)."""

from __future__ import annotations

from edgespace.cli._common import float_option, int_option


def add_refine_options(group) -> None:
    group.add_argument(
        "--refine",
        type=int_option,
        metavar="R",
        help="with --confirm K and --calibration: at most R rounds of confirm K front points, fold the runs "
        "into the calibration, search again; stops once every confirmed point of a round is within tolerance",
    )
    group.add_argument(
        "--tolerance-pct",
        type=float_option,
        metavar="PCT",
        help="with --refine: a round holds when every confirmed point is within ±PCT%% (default 10)",
    )


def check_refine_args(args) -> None:
    """Bad combinations, refused before the search runs."""
    if args.refine is None:
        if args.tolerance_pct is not None:
            raise ValueError("search: --tolerance-pct applies only with --refine R")
        return
    if args.confirm is None:
        raise ValueError("search: --refine R needs --confirm K (the front points confirmed in each round)")
    if args.refine < 1:
        raise ValueError(f"search: --refine {args.refine}: allowed: an integer >= 1 (rounds)")
    if args.confirm_by is not None or args.confirm_proxy:
        raise ValueError(
            "search: --refine chooses its points itself and times them on this machine; "
            "leave out --confirm-by and --confirm-proxy"
        )
    tol = 10.0 if args.tolerance_pct is None else args.tolerance_pct
    if not 0 < tol < 1000:
        raise ValueError(f"search: --tolerance-pct {args.tolerance_pct}: allowed: a number > 0 and < 1000")
    args.tolerance_pct = tol


def run_refine(result, args, progress):
    """The refine the options ask for; returns the study's confirmations."""
    return result.refine(
        args.confirm,
        args.refine,
        args.tolerance_pct,
        threads=args.threads,
        confirm_rounds=args.confirm_rounds,
        progress=None if progress is None else (lambda stage, done, total: progress(done, total)),
    )


def print_rounds(console, frame) -> None:
    """One line per refine round: predicted against measured and how the front moved."""
    from rich.table import Table

    table = Table(title="refine rounds: confirmed front points, predicted vs measured")
    cols = (
        "round",
        "calibration_id",
        "confirmed",
        "within_tolerance",
        "median_abs_error_pct",
        "max_abs_error_pct",
        "refit_to",
        "trials_added",
        "front_kept",
        "front_joined",
        "front_left",
        "stopped",
    )
    for c in cols:
        table.add_column(c, justify="right")
    for r in frame.to_dict(orient="records"):
        cells = []
        for c in cols:
            v = r.get(c)
            if v is None or (isinstance(v, float) and v != v):
                cells.append("-")
            elif c.endswith("_pct"):
                cells.append(f"{v:.1f}")
            elif isinstance(v, float):
                cells.append(f"{v:g}")
            else:
                cells.append(str(v))
        table.add_row(*cells)
    console.print(table)
