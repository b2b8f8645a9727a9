"""The byte layout of one user's state (a *slab*) and the primitives that read and edit it.

A server holds millions of users, so each keeps all of its numbers in one immutable
``bytes`` (issue 14): a header (first and last event time, session start, event count, and
where each section ends), then sections of fixed-size records, in this order:

=========  ==============================================  =====
section    record                                          bytes
=========  ==============================================  =====
counts     event type code u16, events of that type u32     6
purchased  item i32                                         4
rated      item i32                                         4
disliked   item i32                                         4
affinity   category code i32, summed weight f64             12
session    item i32                                         4
seen       item i32, interest weight f32                    8
recent     time f64, item i32, event type code u16          14
=========  ==============================================  =====

The sections that grow with most events come last, so a change moves the ends of few
sections. An edit builds a new slab in one copy (a few hundred bytes): a reader holding the
old one keeps a consistent version, and numpy reads a section in place. Byte order is
native, sizes standard, no padding; the numpy dtypes below read the same records.
"""

from __future__ import annotations

import struct
from typing import Iterable

import numpy as np

RECENT_LIMIT = 50  # recent events kept per user
COUNTS, PURCHASED, RATED, DISLIKED, AFFINITY, SESSION, SEEN, RECENT = range(8)
SCALARS = struct.Struct("=dddI")  # first_ts, last_ts, session_start, event_count
FIRST_TS_AT, LAST_TS_AT, SESSION_START_AT, EVENT_COUNT_AT = 0, 8, 16, 24
ENDS_AT = SCALARS.size
ENDS = struct.Struct("=8I")  # the end offset of each section
HEADER = ENDS_AT + ENDS.size
RECENT_RECORD = struct.Struct("=diH")
SEEN_RECORD = struct.Struct("=if")  # float32: the model folds the user in at float32
COUNT_RECORD = struct.Struct("=HI")
AFFINITY_RECORD = struct.Struct("=id")
ITEM, CODE, F64, F32, U32 = (struct.Struct(f) for f in ("=i", "=H", "=d", "=f", "=I"))
RECORD_SIZES = (COUNT_RECORD.size, 4, 4, 4, AFFINITY_RECORD.size, 4, SEEN_RECORD.size, RECENT_RECORD.size)
RECENT_DTYPE = np.dtype([("ts", "=f8"), ("item", "=i4"), ("type", "=u2")])
COUNT_DTYPE = np.dtype([("type", "=u2"), ("count", "=u4")])
AFFINITY_DTYPE = np.dtype([("category", "=i4"), ("weight", "=f8")])
RECENTS = [struct.Struct("=" + "diH" * n) for n in range(RECENT_LIMIT + 1)]  # n recent records in one call
EMPTY_SECTIONS = ENDS.pack(*[HEADER] * 8)
_PAIR = struct.Struct("=II")
_TAILS = [struct.Struct(f"={8 - section}I") for section in range(8)]  # the ends of a section and those after it


def bounds(slab: bytes, section: int) -> tuple[int, int]:
    """Start and end offset of ``section`` in ``slab``."""
    if section == 0:
        return HEADER, U32.unpack_from(slab, ENDS_AT)[0]
    return _PAIR.unpack_from(slab, ENDS_AT + 4 * section - 4)


def find(slab: bytes, key: bytes, section: int, start: int = -1, end: int = -1) -> int:
    """Offset of the record of ``section`` (at ``start:end``, when known) that starts with
    ``key``, or -1 (a C-speed scan; matches that straddle two records are skipped).

    >>> slab = SCALARS.pack(0, 0, 0, 0) + ENDS.pack(*[HEADER] * 5, *[HEADER + 8] * 3) + ITEM.pack(256) + ITEM.pack(1)
    >>> find(slab, ITEM.pack(1), SESSION) - HEADER, find(slab, ITEM.pack(65536), SESSION)
    (4, -1)
    """
    if start < 0:
        start, end = bounds(slab, section)
    size = RECORD_SIZES[section]
    at = slab.find(key, start, end)
    while at >= 0 and (at - start) % size:
        at = slab.find(key, at + 1, end)
    return at


def splice(slab: bytes, section: int, a: int, b: int, new: bytes, scalars: bytes | None = None) -> bytes:
    """``slab`` with bytes ``a:b`` (inside ``section``) replaced by ``new`` (the ends of this
    section and of those after it move by the change in length), and the scalars, when given,
    by ``scalars``: one copy of the slab."""
    delta = len(new) - (b - a)
    head = slab[:ENDS_AT] if scalars is None else scalars
    if not delta:
        return b"".join((head, slab[ENDS_AT:a], new, slab[b:]))
    tail = _TAILS[section]
    ends = tail.unpack_from(slab, ENDS_AT + 4 * section)
    return b"".join((head, slab[ENDS_AT:ENDS_AT + 4 * section], tail.pack(*[e + delta for e in ends]),
                     slab[HEADER:a], new, slab[b:]))


def splice_many(slab: bytes, edits: list[tuple[int, int, int, bytes]]) -> bytes:
    """:func:`splice` with several ``(section, a, b, new)`` edits (in increasing offset order,
    not overlapping): still one copy of the slab."""
    ends = list(ENDS.unpack_from(slab, ENDS_AT))
    parts = [slab[:ENDS_AT], b""]
    pos = HEADER
    for section, a, b, new in edits:
        parts += (slab[pos:a], new)
        pos = b
        delta = len(new) - (b - a)
        if delta:
            for j in range(section, 8):
                ends[j] += delta
    parts.append(slab[pos:])
    parts[1] = ENDS.pack(*ends)
    return b"".join(parts)


def append(slab: bytes, section: int, record: bytes) -> bytes:
    end = bounds(slab, section)[1]
    return splice(slab, section, end, end, record)


def items(slab: bytes, first: int, last: int | None = None, stride: int = 1) -> np.ndarray:
    """The int32 items of sections ``first..last`` (records of ``stride`` int32s, the item
    first) as a new int64 array."""
    start, end = bounds(slab, first)[0], bounds(slab, first if last is None else last)[1]
    return np.frombuffer(slab, np.int32, (end - start) // 4, start)[::stride].astype(np.int64)


def item_bytes(values: Iterable[int]) -> bytes:
    """Distinct ``values`` as int32 records, in first-seen order."""
    return np.fromiter(dict.fromkeys(int(i) for i in values), np.int32).tobytes()
