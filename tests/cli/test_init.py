"""The ``tastemaker`` command as a whole (cli/__init__.py, cli/base.py): help, version, bare use."""

from __future__ import annotations

import argparse

import pytest

from tastemaker import cli
from tastemaker.models.families import FAMILIES
from tests.cli.helpers import run

COMMANDS = ("serve", "demo", "import", "generate", "train", "train-ranker", "evaluate", "models", "keys")


def parsers(parser: argparse.ArgumentParser, path: str = "tastemaker"):
    """Every (command path, parser) below ``parser``, itself included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, f"{path} {name}")


def test_bare_tastemaker_prints_help_and_succeeds():
    code, out, err = run()
    assert code == 0, err
    assert out.startswith("usage: tastemaker")
    for command in COMMANDS:
        assert f"\n    {command}" in out
    assert "Traceback" not in err


def test_help_lists_the_commands():
    code, out, _ = run("--help")
    assert code == 0
    for command in COMMANDS:
        assert command in out


def test_version_is_the_installed_distribution():
    from importlib.metadata import version

    code, out, _ = run("--version")
    assert code == 0
    assert out.strip() == f"tastemaker {version('tastemaker')}"


@pytest.mark.parametrize("group, actions", [("keys", ("create", "list", "revoke")),
                                            ("models", ("list", "promote", "rollback"))])
def test_a_group_without_its_action_shows_the_group_help(group, actions):
    code, _, err = run(group)
    assert code == 2  # an incomplete command, as argparse answers a missing argument
    assert err.startswith(f"usage: tastemaker {group}")
    for action in actions:
        assert action in err
    assert "Traceback" not in err


def test_every_option_and_argument_has_help_text():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}"
               for path, parser in parsers(cli.build_parser())
               for a in parser._actions
               if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert missing == []


def test_every_default_is_shown_in_the_help(monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # no wrapping (textwrap also breaks at hyphens)
    hidden = []
    for path, parser in parsers(cli.build_parser()):
        text = parser.format_help()
        for a in parser._actions:
            shown = a.default in (None, False, argparse.SUPPRESS) or f"(default: {a.default})" in text
            if a.option_strings and not shown:
                hidden.append(f"{path} {a.option_strings[-1]}")
    assert hidden == []


def test_evaluate_help_shows_its_defaults():
    code, out, _ = run("evaluate", "--help")
    assert code == 0
    text = " ".join(out.split())
    for default in ("(default: movielens)", "(default: all)", "(default: 0,1,2)", "(default: reports)",
                    "(default: 500)"):
        assert default in text


def test_train_help_lists_every_registered_family():
    code, out, _ = run("train", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "one of: " + ", ".join(sorted(FAMILIES)) in text
    assert "(default: hybrid)" in text
