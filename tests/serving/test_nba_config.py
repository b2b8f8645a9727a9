"""serving.nba_config: the next_best_action section of a placement document and its errors."""

from __future__ import annotations

import doctest

import pytest

from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving import nba_config
from tastemaker.serving.placement_config import load_placements


def test_doctest():
    assert doctest.testmod(nba_config).failed == 0


def doc(section: str) -> str:
    return "placements:\n  p:\n    sources: {popular: 1}\n    next_best_action:\n" + section


def test_a_full_section():
    spec = load_placements(doc(
        "      actions:\n"
        "        - {name: o, kind: offer, when: 'user.orders >= 1', p: '0.1', value: 'user.clv', cost: 2,"
        " margin: 0.3, payload: {code: X}}\n"
        "        - {name: r, kind: recommend, p: '0.05', value: '10'}\n"
        "        - {name: n, kind: nothing}\n"
        "      constraints: {max_offers_per_day: 2, max_messages_per_day: 1, margin_floor: 0.1}\n"))["p"].next_best_action
    assert [(a.name, a.kind) for a in spec.actions] == [("o", "offer"), ("r", "recommend"), ("n", "nothing")]
    o = spec.actions[0]
    assert (o.cost, o.margin, o.payload, o.when.source) == (2.0, 0.3, {"code": "X"}, "user.orders >= 1")
    assert (spec.max_offers_per_day, spec.max_messages_per_day, spec.margin_floor) == (2, 1, 0.1)


@pytest.mark.parametrize("section, path, fragment", [
    ("      actions: []\n", "/next_best_action/actions", "list of 1 to 50"),
    ("      actions: [{name: a, kind: offer, p: '0.1 +', value: '1'}]\n", "/actions/0/p", "at position 5"),
    ("      actions: [{name: a, kind: offer, p: '0.1', value: '1', when: 'user.orders'}]\n", "/actions/0/when",
     "expected a condition"),
    ("      actions: [{name: a, kind: message, p: '0.1', value: '1', margin: 0.2}]\n", "/actions/0/margin",
     "only offers"),
    ("      actions: [{name: a, kind: offer, p: '1', value: '1'}, {name: a, kind: message, p: '1', value: '1'}]\n",
     "/next_best_action/actions", "two actions are named 'a'"),
    ("      actions: [{name: a, kind: offer, p: '1', value: '1'}]\n      constraints: {max_offers: 1}\n",
     "/constraints/max_offers", "unknown"),
    ("      actions: [{name: a, kind: offer, value: '1'}]\n", "/actions/0/p", "required"),
])
def test_errors_name_the_field(section: str, path: str, fragment: str):
    with pytest.raises(ValidationFailed) as err:
        load_placements(doc(section))
    hits = [e for e in err.value.errors if e.field.endswith(path)]
    assert hits and fragment in hits[0].reason, err.value.errors
