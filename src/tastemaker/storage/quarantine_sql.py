"""The quarantine table's SQL, shared by the SQLite and PostgreSQL stores (placeholders differ).

One row per flagged event, keyed by its log position: the flag and the operator's decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from tastemaker.storage.protocols import (
    QUARANTINE_STATUSES,
    QuarantinedUser,
    QuarantineRecord,
)

COLUMNS = "seq, user_id, item_id, type, ts, reason, status, flagged_at, decided_at"
DECISIONS = ("released", "confirmed")
EXCLUDED = ("held", "confirmed")


def record(row: tuple) -> QuarantineRecord:
    return QuarantineRecord(int(row[0]), row[1], row[2], row[3], float(row[4]), row[5], row[6], float(row[7]),
                            None if row[8] is None else float(row[8]))


def values(r: QuarantineRecord) -> tuple:
    return (r.seq, r.user_id, r.item_id, r.type, r.ts, r.reason, r.status, r.flagged_at, r.decided_at)


def hold_rows(records: Sequence[QuarantineRecord], now: float) -> list[tuple]:
    """The rows of newly held ``records``; one without a ``flagged_at`` is flagged ``now``."""
    return [values(r) if r.flagged_at else values(QuarantineRecord(**{**r.__dict__, "flagged_at": now}))
            for r in records]


def check_status(status: str | None, allowed: Sequence[str] = QUARANTINE_STATUSES) -> None:
    if status is not None and status not in allowed:
        raise ValueError(f"unknown status {status!r}; one of {', '.join(allowed)}")


def list_query(p: str, status: str | None, user_id: str | None, after_seq: int, limit: int) -> tuple[str, tuple]:
    """``SELECT`` of :meth:`QuarantineStore.list` with placeholder ``p`` (``?`` or ``%s``)."""
    check_status(status)
    where, args = [f"seq > {p}"], [after_seq]
    if status is not None:
        where.append(f"status = {p}")
        args.append(status)
    if user_id is not None:
        where.append(f"user_id = {p}")
        args.append(user_id)
    return (f"SELECT {COLUMNS} FROM quarantine WHERE {' AND '.join(where)} ORDER BY seq LIMIT {p}",
            (*args, max(0, int(limit))))


def users_query(p: str, status: str | None, limit: int) -> tuple[str, tuple]:
    check_status(status)
    where, args = ("WHERE status = " + p, (status,)) if status is not None else ("", ())
    sql = (f"SELECT user_id, COUNT(*), MIN(seq), MAX(seq) FROM quarantine {where} GROUP BY user_id "
           f"ORDER BY COUNT(*) DESC, user_id LIMIT {p}")
    return sql, (*args, max(0, int(limit)))


def reasons_query(p: str, users: Sequence[str], status: str | None) -> tuple[str, tuple]:
    marks = ", ".join([p] * len(users))
    where = f" AND status = {p}" if status is not None else ""
    return (f"SELECT DISTINCT user_id, reason FROM quarantine WHERE user_id IN ({marks}){where} ORDER BY user_id, reason",
            (*users, *((status,) if status is not None else ())))


def quarantined_users(rows: list[tuple], reasons: list[tuple]) -> list[QuarantinedUser]:
    by_user: dict[str, list[str]] = {}
    for user_id, reason in reasons:
        by_user.setdefault(user_id, []).append(reason)
    return [QuarantinedUser(u, int(n), by_user.get(u, []), int(lo), int(hi)) for u, n, lo, hi in rows]


def decide_target(p: str, status: str, seqs: Sequence[int] | None, user_id: str | None) -> tuple[str, tuple]:
    """``WHERE`` clause (and its arguments) of the rows a decision changes."""
    check_status(status, DECISIONS)
    if (seqs is None) == (user_id is None):
        raise ValueError("name either seqs or user_id")
    if user_id is not None:
        return f"user_id = {p} AND status <> {p}", (user_id, status)
    wanted = sorted({int(s) for s in seqs or ()})
    marks = ", ".join([p] * len(wanted)) or "NULL"
    return f"seq IN ({marks}) AND status <> {p}", (*wanted, status)
