"""The ``tastemaker`` command, one module per command group.

``serve`` (serve, demo), ``data`` (import, generate), ``train`` (train, train-ranker,
evaluate, models), ``keys``, ``auth``, ``audit``, ``privacy``, ``experiments`` (report),
``backup`` (backup, restore). Every option has help text and shows its default; long work
reports progress on stderr (``--quiet`` turns it off); results go to stdout.
"""

from __future__ import annotations

import argparse
import sys

from tastemaker.cli import audit, auth, backup, data, experiments, keys, privacy, serve, train
from tastemaker.cli.base import HelpFormatter, version
from tastemaker.cli.serve import check_placements

__all__ = ["build_parser", "check_placements", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tastemaker", formatter_class=HelpFormatter,
        description="Tastemaker, a self-hosted real-time personalization engine.",
        epilog="`tastemaker COMMAND --help` shows a command's options. Start with `tastemaker demo`.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for group in (serve, data, train, keys, auth, audit, privacy, experiments, backup):
        group.register(sub, HelpFormatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `tastemaker`: show what there is
        parser.print_help()
        return 0
    group = getattr(args, "group", None)
    if group is not None and getattr(args, "action", None) is None:  # `tastemaker keys`: which action?
        group.print_help(sys.stderr)
        return 2
    return args.func(args)
