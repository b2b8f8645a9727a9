"""Shared data-set container (:class:`Dataset`) plus fast writers and readers.

Every data source (synthetic generator, MovieLens reader, ingest pipelines)
produces the same shape: item dicts, user dicts and one Arrow table of events
with the exact :data:`EVENT_SCHEMA`. Keeping events columnar is what lets us
handle millions of rows without Python-level loops.

Example:
    >>> from tastemaker.datasets import generate
    >>> ds = generate(n_users=10, n_items=20, n_events=100, seed=1)
    >>> paths = ds.write(Path("/tmp/ds"), fmt="jsonl")   # doctest: +SKIP
    >>> Dataset.read(Path("/tmp/ds"), fmt="jsonl").events.num_rows  # doctest: +SKIP
    100
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

EVENT_TYPES: tuple[str, ...] = (
    "view", "click", "add_to_cart", "purchase", "rating", "like", "dislike", "share", "search",
)

EVENT_SCHEMA = pa.schema([
    pa.field("id", pa.string(), nullable=False),
    pa.field("type", pa.string(), nullable=False),
    pa.field("user_id", pa.string(), nullable=False),
    pa.field("session_id", pa.string()),
    pa.field("item_id", pa.string()),
    pa.field("value", pa.float64()),
    pa.field("query", pa.string()),
    pa.field("timestamp", pa.float64(), nullable=False),
])

#: An events table that follows :data:`EVENT_SCHEMA`, sorted by timestamp.
EventFrame: TypeAlias = pa.Table

# Record fields by kind; drives the CSV/JSON encodings below.
ITEM_FIELDS = ("id", "title", "description", "categories", "brand", "price", "margin",
               "stock", "tags", "created_at", "properties")
USER_FIELDS = ("id", "traits", "consent")
LIST_FIELDS = frozenset({"categories", "tags"})
DICT_FIELDS = frozenset({"traits", "consent", "properties", "context"})
# msgspec is a declared dependency and as fast as orjson; sorted keys keep output stable.
_JSON = msgspec.json.Encoder(order="sorted")
_EXT = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}

# Parquet cannot store empty structs and heterogeneous dicts would be coerced
# into a union struct, so dict fields are JSON strings in every tabular format.
_ITEM_TAB = pa.schema([
    ("id", pa.string()), ("title", pa.string()), ("description", pa.string()),
    ("categories", pa.list_(pa.string())), ("brand", pa.string()), ("price", pa.float64()),
    ("margin", pa.float64()), ("stock", pa.int64()), ("tags", pa.list_(pa.string())),
    ("created_at", pa.float64()), ("properties", pa.string()),
])
_USER_TAB = pa.schema([("id", pa.string()), ("traits", pa.string()), ("consent", pa.string())])


def validate_events(events: pa.Table) -> None:
    """Raise ``ValueError`` unless *events* has the exact schema and is time-sorted."""
    if not events.schema.remove_metadata().equals(EVENT_SCHEMA, check_metadata=False):
        raise ValueError(f"events schema mismatch:\n{events.schema}\nexpected:\n{EVENT_SCHEMA}")
    ts = events.column("timestamp").to_numpy()
    if ts.size > 1 and bool(np.any(np.diff(ts) < 0)):
        raise ValueError("events must be sorted by timestamp ascending")


def empty_events() -> pa.Table:
    """Return a zero-row events table with :data:`EVENT_SCHEMA`."""
    return EVENT_SCHEMA.empty_table()


def _records_table(records: list[dict], schema: pa.Schema, lists_as_text: bool) -> pa.Table:
    """Columnarise item/user dicts; dicts -> JSON text, lists -> native or '|'-joined."""
    cols: dict[str, list[Any]] = {}
    for field in schema:
        name = field.name
        vals = [r.get(name) for r in records]
        if name in DICT_FIELDS:
            vals = [None if v is None else _JSON.encode(v).decode() for v in vals]
        cols[name] = vals
    table = pa.table(cols, schema=schema)
    if lists_as_text:  # CSV has no list type: use '|' as documented.
        for name in LIST_FIELDS & set(schema.names):
            i = schema.get_field_index(name)
            joined = pa.array(["|".join(v) if v is not None else None for v in cols[name]],
                              pa.string())
            table = table.set_column(i, name, joined)
    return table


def _jsonl_records(records: list[dict], path: Path) -> None:
    """One JSON object per line, null fields omitted (small tables: items, users)."""
    path.write_bytes(_JSON.encode_lines([{k: v for k, v in r.items() if v is not None}
                                         for r in records]))


def _json_string_fragments(col: pa.Array) -> pa.Array:
    """Quote a string column as JSON; escape only values that need it (rare)."""
    needs = pc.fill_null(pc.match_substring_regex(col, r'[\x00-\x1f"\\]'), False)
    if pc.any(needs).as_py():
        # Python fallback only when some value contains quotes/backslashes/controls.
        mask = needs.to_numpy(zero_copy_only=False)
        quoted = [_JSON.encode(v).decode() if m else (None if v is None else f'"{v}"')
                  for v, m in zip(col.to_pylist(), mask)]
        return pa.array(quoted, pa.string())
    return pc.binary_join_element_wise('"', col, '"', "")


def _jsonl_batch(batch: pa.RecordBatch) -> tuple[pa.Buffer, int, int]:
    """Encode one batch; return (data buffer, start, end) of the joined lines.

    Each field becomes a ``"name":value`` fragment (null when the value is null)
    and fragments are joined with ``null_handling="skip"``, so null fields are
    omitted and the encode runs in Arrow kernels instead of per-row Python.
    """
    frags = []
    for field, col in zip(batch.schema, batch.columns):
        if pa.types.is_floating(field.type):
            # NaN/inf are not valid JSON; treat them as missing.
            col = pc.if_else(pc.is_finite(col), col, pa.scalar(None, field.type))
            text = pc.cast(col, pa.string())
        elif pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
            text = pc.cast(col, pa.string())
        elif pa.types.is_string(field.type):
            text = _json_string_fragments(col)
        else:  # nested columns (e.g. a future "context"): JSON per value.
            text = pa.array([None if v is None else _JSON.encode(v).decode()
                             for v in col.to_pylist()], pa.string())
        frags.append(pc.binary_join_element_wise(f'"{field.name}":', text, ""))
    body = pc.binary_join_element_wise(*frags, ",", null_handling="skip")
    lines = pc.binary_join_element_wise("{", body, "}\n", "")
    # The string array's data buffer already is the concatenated file content.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    return lines.buffers()[2], int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])


def write_events_jsonl(events: pa.Table, path: Path, batch_rows: int = 500_000) -> None:
    """Write events as JSON lines (vectorised; batches keep int32 offsets safe)."""
    with open(path, "wb") as fh:
        for batch in events.to_batches(max_chunksize=batch_rows):
            if batch.num_rows:
                buf, lo, hi = _jsonl_batch(batch)
                fh.write(memoryview(buf)[lo:hi])


def _events_csv_table(events: pa.Table) -> pa.Table:
    """Encode nested event columns for CSV (lists '|'-joined, dicts JSON)."""
    for i, field in enumerate(events.schema):
        if pa.types.is_list(field.type):
            events = events.set_column(i, field.name, pc.binary_join(events.column(i), "|"))
        elif pa.types.is_struct(field.type) or pa.types.is_map(field.type):
            enc = [None if v is None else _JSON.encode(dict(v)).decode()
                   for v in events.column(i).to_pylist()]
            events = events.set_column(i, field.name, pa.array(enc, pa.string()))
    return events


@dataclass
class Dataset:
    """Items, users and time-sorted events of one data set.

    Example:
        >>> ds = Dataset(items=[], users=[], events=empty_events(), name="empty")
        >>> ds.events.num_rows
        0
    """

    items: list[dict]
    users: list[dict]
    events: pa.Table
    name: str

    def interaction_indices(self) -> tuple[np.ndarray, np.ndarray, int]:
        """Each event's user row (users by sorted id) and item column (catalogue order), and the user count.

            >>> ds = Dataset(items=[{"id": "a"}, {"id": "b"}], users=[], name="t",
            ...              events=pa.table({"user_id": ["y", "x"], "item_id": ["b", "a"]}))
            >>> [a.tolist() if hasattr(a, "tolist") else a for a in ds.interaction_indices()]
            [[1, 0], [1, 0], 2]
        """
        column = {item["id"]: j for j, item in enumerate(self.items)}
        users, user = np.unique(np.asarray(self.events.column("user_id").to_pylist()), return_inverse=True)
        item = np.fromiter((column[i] for i in self.events.column("item_id").to_pylist()), np.int64,
                           count=self.events.num_rows)
        return user.astype(np.int64), item, len(users)

    def write(self, directory: Path, fmt: str = "parquet") -> dict[str, Path]:
        """Write ``items/users/events.<ext>`` into *directory*; return the paths.

        ``fmt`` is one of ``parquet``, ``csv`` or ``jsonl``.
        """
        if fmt not in _EXT:
            raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(_EXT)}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {k: directory / f"{k}.{_EXT[fmt]}" for k in ("items", "users", "events")}
        if fmt == "jsonl":
            _jsonl_records(self.items, paths["items"])
            _jsonl_records(self.users, paths["users"])
            write_events_jsonl(self.events, paths["events"])
            return paths
        csv = fmt == "csv"
        items = _records_table(self.items, _ITEM_TAB, lists_as_text=csv)
        users = _records_table(self.users, _USER_TAB, lists_as_text=csv)
        if csv:
            pacsv.write_csv(items, paths["items"])
            pacsv.write_csv(users, paths["users"])
            pacsv.write_csv(_events_csv_table(self.events), paths["events"])
        else:
            pq.write_table(items, paths["items"])
            pq.write_table(users, paths["users"])
            pq.write_table(self.events, paths["events"])
        return paths

    @classmethod
    def read(cls, directory: Path, fmt: str = "parquet", name: str | None = None) -> "Dataset":
        """Read a directory written by :meth:`write` back into a :class:`Dataset`.

        Example:
            >>> Dataset.read(Path("/tmp/ds"), fmt="csv").events.num_rows  # doctest: +SKIP
        """
        directory = Path(directory)
        ext = _EXT[fmt]
        items = _read_records(directory / f"items.{ext}", fmt, _ITEM_TAB)
        users = _read_records(directory / f"users.{ext}", fmt, _USER_TAB)
        path = directory / f"events.{ext}"
        if path.stat().st_size == 0:  # an empty JSONL file is valid but unparsable by Arrow
            events = empty_events()
        elif fmt == "parquet":
            events = pq.read_table(path)
        elif fmt == "csv":
            events = pacsv.read_csv(path, convert_options=_csv_convert(EVENT_SCHEMA))
        else:
            events = pajson.read_json(path, parse_options=pajson.ParseOptions(
                explicit_schema=EVENT_SCHEMA, unexpected_field_behavior="ignore"))
        events = events.select(EVENT_SCHEMA.names).cast(EVENT_SCHEMA)
        return cls(items=items, users=users, events=events, name=name or directory.name)


def _csv_convert(schema: pa.Schema) -> pacsv.ConvertOptions:
    # Writers emit null as an empty unquoted cell and "" as a quoted one.
    return pacsv.ConvertOptions(column_types={f.name: f.type for f in schema},
                                strings_can_be_null=True, quoted_strings_can_be_null=False)


def _read_records(path: Path, fmt: str, schema: pa.Schema) -> list[dict]:
    """Inverse of the record encodings used by :meth:`Dataset.write`."""
    if fmt == "jsonl":
        with open(path, "rb") as fh:
            rows = [msgspec.json.decode(line) for line in fh if line.strip()]
        return [{name: row.get(name) for name in schema.names} for row in rows]
    if fmt == "csv":
        types = {f.name: (pa.string() if f.name in LIST_FIELDS else f.type) for f in schema}
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False))
    else:
        table = pq.read_table(path)
    rows = table.to_pylist()
    for row in rows:
        for name in LIST_FIELDS & row.keys():
            if fmt == "csv" and row[name] is not None:
                row[name] = row[name].split("|") if row[name] else []
        for name in DICT_FIELDS & row.keys():
            if row[name] is not None:
                row[name] = msgspec.json.decode(row[name])
    return rows
