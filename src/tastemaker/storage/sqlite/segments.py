"""Segments: bulk-imported events kept as compressed Arrow IPC streams in ``event_segments``.

An import of millions of events cannot afford a B-tree row per event (13 columns); one
blob per batch is written at memory speed and decoded in C on replay. A segment holds a
contiguous run of seqs (``first_seq`` .. ``last_seq``), so row ``i`` has seq
``first_seq + i``; the ``seq`` column is stored anyway so a body describes itself.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

# The event columns a segment may hold, with the types the ``events`` table gives them.
COLUMN_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(), "type": pa.string(), "user_id": pa.string(), "session_id": pa.string(),
    "item_id": pa.string(), "item_ids": pa.string(), "value": pa.float64(), "query": pa.string(),
    "context": pa.string(), "ts": pa.float64(), "recommendation_id": pa.string(),
    "properties": pa.string(), "schema_version": pa.int64(),
}
REQUIRED = ("id", "type", "user_id", "ts")  # NOT NULL in the events table
SEGMENT_ROWS = 262_144  # keeps a blob to a few MB whatever batch size a caller sends
# zstd: a third smaller than lz4 at the same import and replay speed (measured); lz4 if absent.
_COMPRESSION = next((c for c in ("zstd", "lz4") if pa.Codec.is_available(c)), None)
_WRITE_OPTIONS = ipc.IpcWriteOptions(compression=_COMPRESSION)

INSERT = "INSERT INTO event_segments (first_seq, last_seq, n, body) VALUES (?, ?, ?, ?)"


def _array(name: str, values: Sequence | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    kind = COLUMN_TYPES[name]
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values if values.type == kind else values.cast(kind)
    try:
        return pa.array(values, kind)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        if kind != pa.string():
            raise
        # TEXT affinity in SQLite stored numbers as text; do the same.
        return pa.array([None if v is None else str(v) for v in values], kind)


def batch_table(batch: Mapping[str, Sequence]) -> pa.Table:
    """A column batch (lists or Arrow arrays) as a table, checked like the events table checks rows."""
    unknown = sorted(set(batch) - COLUMN_TYPES.keys())
    if unknown:
        raise ValueError(f"unknown event columns: {', '.join(unknown)}")
    table = pa.table({name: _array(name, values) for name, values in batch.items()})
    for name in REQUIRED:
        if name not in batch or table.column(name).null_count:
            raise sqlite3.IntegrityError(f"NOT NULL constraint failed: events.{name}")
    return table


def prefetched(batches: Iterable[dict[str, list]]) -> Iterator[tuple[list[str], pa.Table]]:
    """The batches as ``(ids, table)``, each next one produced in a thread while SQLite writes.

    Producing a batch (parsing a file, validating, lists to Arrow) holds the GIL; SQLite
    releases it while inserting, so on two cores the two overlap. The iterator is only
    ever advanced by that one thread, one step at a time.
    """
    it = iter(batches)

    def prepare() -> tuple[list[str], pa.Table] | None:
        batch = next(it, None)
        if batch is None:
            return None
        table = batch_table(batch)
        ids = batch["id"] if isinstance(batch["id"], list) else table.column("id").to_pylist()
        return ids, table

    with ThreadPoolExecutor(1, thread_name_prefix="tastemaker-import") as pool:
        pending = pool.submit(prepare)
        while (ready := pending.result()) is not None:
            pending = pool.submit(prepare)
            yield ready


def write(conn: sqlite3.Connection, table: pa.Table, first_seq: int) -> None:
    """Store ``table``'s rows as seqs ``first_seq``, ``first_seq + 1``, ... in one or more segments."""
    for start in range(0, table.num_rows, SEGMENT_ROWS):
        part = table.slice(start, SEGMENT_ROWS)
        first = first_seq + start
        seqs = pa.array(np.arange(first, first + part.num_rows, dtype=np.int64))
        conn.execute(INSERT, (first, first + part.num_rows - 1, part.num_rows, memoryview(encode(part, seqs))))


def encode(table: pa.Table, seqs: pa.Array | pa.ChunkedArray) -> pa.Buffer:
    """A segment body: ``table`` with its ``seq`` column first, as a compressed IPC stream."""
    table = table.add_column(0, "seq", seqs)
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema, options=_WRITE_OPTIONS) as writer:
        writer.write_table(table)
    return sink.getvalue()


def decode(body: bytes) -> pa.Table:
    return ipc.open_stream(pa.py_buffer(body)).read_all()


def rows_between(table: pa.Table, first_seq: int, names: Sequence[str], lo_seq: int, hi_seq: int) -> list[tuple]:
    """The rows with ``lo_seq <= seq < hi_seq`` of a decoded segment starting at ``first_seq``.

    A segment without holes is sliced by position; one that an erasure rewrote (fewer rows
    than its range) is searched by its ``seq`` column."""
    span = table.column("seq")
    if table.num_rows and int(span[-1].as_py()) - first_seq + 1 == table.num_rows:
        return rows(table, names, lo_seq - first_seq, hi_seq - first_seq)
    seqs = span.to_numpy()
    start, stop = np.searchsorted(seqs, [lo_seq, hi_seq])
    return rows(table, names, int(start), int(stop))


def user_rows(table: pa.Table, user_id: str, names: Sequence[str], after_seq: int = 0,
              limit: int | None = None) -> list[tuple]:
    """The first ``limit`` (default: all) rows of ``user_id`` with a seq above ``after_seq``
    of a decoded segment, in seq order (cut in Arrow, before any row becomes Python objects)."""
    mine = pc.and_(pc.equal(table.column("user_id"), user_id), pc.greater(table.column("seq"), after_seq))
    part = table.filter(mine)
    return rows(part, names, 0, part.num_rows if limit is None else min(limit, part.num_rows))


def rows(table: pa.Table, names: Sequence[str], start: int, stop: int) -> list[tuple]:
    """Rows ``start:stop`` of a decoded segment as tuples of ``names`` (absent columns are None)."""
    part = table.slice(start, stop - start)
    present = set(part.column_names)
    none = [None] * part.num_rows
    return list(zip(*(part.column(n).to_pylist() if n in present else none for n in names)))
