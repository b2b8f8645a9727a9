"""Shared pieces of the ``tastemaker`` command: help formatting, common options, settings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path

from tastemaker.config import Settings


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default after its help ("(default: 8000)"), but not empty ones.

    ``argparse.ArgumentDefaultsHelpFormatter`` also prints "(default: None)" and
    "(default: False)", which say nothing; descriptions keep their line breaks (examples).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "%(default)" in help_text or action.default in (None, False, argparse.SUPPRESS):
            return help_text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{help_text} (default: %(default)s)"
        return help_text


class Families:
    """The model families of ``models.families``, read on first use.

    Used as argparse ``choices``: the registry imports every model module (a second or
    more), which ``tastemaker keys list`` or ``--help`` of another command should not pay.
    """

    def _names(self) -> list[str]:
        from tastemaker.models.families import FAMILIES

        return sorted(FAMILIES)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


FAMILIES = Families()


def family_list(value: str) -> str:
    """argparse type of ``--families a,b``: every name must be a registered family."""
    unknown = [n for n in value.split(",") if n not in FAMILIES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; known: {', '.join(FAMILIES)}")
    return value


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", metavar="DIR",
                   help="data directory (default: $TASTEMAKER_DATA_DIR, else ./data)")


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress output (for scripts): only the result and errors")


def quiet(args: argparse.Namespace) -> bool:
    """Progress is off with ``--quiet`` or ``TASTEMAKER_NO_PROGRESS=1``."""
    return bool(getattr(args, "quiet", False)) or os.environ.get("TASTEMAKER_NO_PROGRESS") == "1"


def settings(args: argparse.Namespace) -> Settings:
    """The environment's settings with ``--data-dir`` applied."""
    result = Settings()
    if getattr(args, "data_dir", None):
        result.data_dir = Path(args.data_dir)
    return result


def version() -> str:
    """The installed distribution's version (the package's own when run from a source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("tastemaker")
    except PackageNotFoundError:
        from tastemaker import __version__

        return __version__


def cli_actor() -> str:
    """Who ran a command, for the audit log: ``cli:<operating-system user>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return f"cli:uid-{os.getuid()}"


def record_audit(stores, action: str, target: str, summary: dict | None = None) -> None:
    """Append an audit record for an action a command took: who (:func:`cli_actor`), what, when,
    and where (the host the command ran on)."""
    import socket

    if stores.audit is not None:
        stores.audit.append(cli_actor(), action, target, summary or {}, f"cli@{socket.gethostname()}")
