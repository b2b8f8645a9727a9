"""``tastemaker experiments report ID [--html FILE]``: an experiment's results from the logs.

Reads the experiment from the data dir, joins its outcomes to its served lists
(:mod:`tastemaker.experiments.attribution`), runs the analysis and prints the results document
(the one ``GET /v1/experiments/{id}/results`` answers) as JSON; ``--html`` also writes the
report with its plots.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tastemaker.cli.base import add_data_dir, settings


def cmd_report(args: argparse.Namespace) -> int:
    from tastemaker.experiments.attribution import DEFAULT_PRE_PERIOD_S, DEFAULT_WINDOW_S
    from tastemaker.experiments.results import experiment_results, html_report, load_experiment
    from tastemaker.storage.factory import open_stores

    window = DEFAULT_WINDOW_S if args.window is None else args.window
    pre_period = DEFAULT_PRE_PERIOD_S if args.pre_period is None else args.pre_period

    with open_stores(settings(args)) as stores:
        try:
            experiment = load_experiment(stores, args.experiment_id)
        except LookupError as exc:
            print(exc, file=sys.stderr)
            return 1
        doc = experiment_results(stores, experiment, window_s=window, pre_period_s=pre_period)
    if args.html is not None:
        args.html.write_text(html_report(doc, experiment), encoding="utf-8")
        print(f"report written to {args.html}", file=sys.stderr)
    print(json.dumps(doc, indent=2, sort_keys=True, default=float))
    return 0


def _positive(value: str) -> float:
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return x


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("experiments", help="experiment results and reports", formatter_class=formatter,
                       description="A/B/n experiments on placements (created with POST /v1/experiments).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    r = actions.add_parser("report", formatter_class=formatter,
                           help="print an experiment's results as JSON (verdict, effects, guardrails, SRM)")
    r.add_argument("experiment_id", metavar="ID", help="the experiment's id")
    r.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML report with plots to FILE")
    # defaults resolved when the command runs (experiments.attribution: not imported for every command)
    r.add_argument("--window", type=_positive, metavar="SECONDS",
                   help="attribution window: outcomes count this long after their list (default: 86400, a day)")
    r.add_argument("--pre-period", type=_positive, metavar="SECONDS",
                   help="seconds before the start whose behaviour is the CUPED covariate (default: 1209600, 14 days)")
    add_data_dir(r)
    r.set_defaults(func=cmd_report)
    p.set_defaults(group=p)
