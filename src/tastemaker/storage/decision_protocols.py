"""The protocols of the stores that keep operators' decisions: experiments, rule segments and
quarantined events. Re-exported by :mod:`tastemaker.storage.protocols`, where callers find them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


class ExperimentConflict(Exception):
    """A write lost a race: the id exists already (create), or the record changed since it
    was read (update with a stale ``expected_version``). The API answers 409."""


@dataclass(frozen=True)
class ExperimentRecord:
    """An experiment as stored: its document (``experiments.spec.Experiment.to_json()``,
    which holds its ``status``), when it was created and last changed, and ``version``, which
    every update increments (optimistic concurrency: an update names the version it read)."""

    experiment_id: str
    definition: dict[str, Any]
    created_at: float
    updated_at: float
    version: int = 1

    @property
    def status(self) -> str:
        return self.definition.get("status", "draft")


class ExperimentStore(Protocol):
    """Experiments (A/B/n tests, model canaries): their definitions and status. Holds nothing
    about users (assignment is computed, exposures are in the impression log)."""

    def create(self, experiment_id: str, definition: dict[str, Any]) -> ExperimentRecord:
        """Store a new experiment at version 1; :class:`ExperimentConflict` if the id exists."""

    def get(self, experiment_id: str) -> ExperimentRecord | None: ...

    def list(self, status: str | None = None) -> list[ExperimentRecord]:
        """Every experiment (with ``status``, or all), oldest first."""

    def update(self, experiment_id: str, definition: dict[str, Any], expected_version: int) -> ExperimentRecord:
        """Replace the definition if the stored version is ``expected_version`` (then version + 1),
        in one transaction; KeyError when absent, :class:`ExperimentConflict` when it moved on."""

    def change_token(self) -> bytes:
        """A cheap value every experiment write, in any process, changes: servers check it on
        every request and reload the running experiments only when it moved."""


class SegmentConflict(Exception):
    """A segment of that name exists already (create). The API answers 409."""


@dataclass(frozen=True)
class SegmentRecord:
    """A rule segment as stored: its name, its definition (``{"expression", "description"}``,
    validated by the API before it is stored), when it was created and last changed, and a
    ``version`` every replace increments."""

    name: str
    definition: dict[str, Any]
    created_at: float
    updated_at: float
    version: int = 1


class SegmentStore(Protocol):
    """Rule segments defined through ``/v1/segments``. Holds nothing about users (membership
    is computed per request from the online state)."""

    def create(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        """Store a new segment at version 1; :class:`SegmentConflict` if the name exists."""

    def get(self, name: str) -> SegmentRecord | None: ...

    def list(self) -> list[SegmentRecord]:
        """Every segment, by name."""

    def replace(self, name: str, definition: dict[str, Any]) -> SegmentRecord:
        """Replace a segment's definition (version + 1); KeyError when absent."""

    def delete(self, name: str) -> bool:
        """Remove a segment; False when there was none."""

    def change_token(self) -> bytes:
        """A cheap value every segment write, in any process, changes: servers check it on
        every request and reload the definitions only when it moved."""


QUARANTINE_STATUSES = ("held", "released", "confirmed")


@dataclass
class QuarantineRecord:
    """One quarantined event: kept in the log, left out of popularity, trending, co-visitation
    and training while ``status`` is ``held`` or ``confirmed`` (an operator's verdict: a bot);
    ``released`` events count again."""

    seq: int
    user_id: str
    item_id: str | None
    type: str
    ts: float
    reason: str  # user_agent, rate, regular_gaps, click_without_view, shilling
    status: str = "held"
    flagged_at: float = 0.0
    decided_at: float | None = None


@dataclass
class QuarantinedUser:
    user_id: str
    events: int
    reasons: list[str]
    first_seq: int
    last_seq: int


class QuarantineStore(Protocol):
    """The quarantine flags of events (features.bots / features.shilling decide them, the ingest
    path writes them, replay and training read them), and the operators' decisions."""

    def hold(self, records: Sequence[QuarantineRecord]) -> int:
        """Flag events (a seq flagged before keeps its first record); how many were new."""

    def excluded(self, after_seq: int = 0, to_seq: int | None = None) -> set[int]:
        """The seqs in ``(after_seq, to_seq]`` that are held or confirmed (left out of the fold)."""

    def list(self, status: str | None = None, user_id: str | None = None, after_seq: int = 0,
             limit: int = 100) -> list[QuarantineRecord]:
        """Up to ``limit`` records above ``after_seq``, oldest first."""

    def users(self, status: str | None = "held", limit: int = 100) -> list[QuarantinedUser]:
        """Users with events in ``status`` (any when None), most events first."""

    def decide(self, status: str, seqs: Sequence[int] | None = None,
               user_id: str | None = None) -> list[QuarantineRecord]:
        """Set ``status`` (released or confirmed) on the named events or on all of a user's,
        except those already in it; the changed records, as they are now, oldest first."""

    def erase_user(self, user_id: str) -> int:
        """Delete every record of the user (erasure); how many."""
