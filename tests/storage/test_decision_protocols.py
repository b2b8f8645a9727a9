"""storage.decision_protocols: the decision stores' protocols are the very objects callers find
in storage.protocols, and the real backends satisfy them (contracts: test_*_store_contract.py)."""

from __future__ import annotations

from tastemaker.storage import decision_protocols, protocols


def test_protocols_re_exports_every_decision_store_type():
    names = [n for n in vars(decision_protocols) if not n.startswith("_") and n[0].isupper()]
    assert {"ExperimentStore", "SegmentStore", "QuarantineStore", "QUARANTINE_STATUSES"} <= set(names)
    assert all(getattr(protocols, n) is getattr(decision_protocols, n) for n in names)
