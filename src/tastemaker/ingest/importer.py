"""Bulk import of events, items and users from CSV, JSON Lines or Parquet files.

Files are read with pyarrow (multi-threaded, columnar) and written in one transaction per
file, so a bad row anywhere rejects the whole file and nothing is half-imported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable, Iterable, Iterator

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from tastemaker.schema.errors import FieldError, ValidationFailed, from_msgspec
from tastemaker.schema.records import Item, User
from tastemaker.schema.registry import VALUE_LIMIT, EventSchemaRegistry, unknown_type_reason, value_errors
from tastemaker.schema.validation import normalize_documents

FORMATS = ("csv", "jsonl", "parquet")
BATCH_ROWS = 250_000
LIST_FIELDS = ("categories", "tags", "item_ids")
OBJECT_FIELDS = ("context", "properties", "traits", "consent")


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    suffixes = "".join(path.suffixes).lower()
    for ext, name in ((".parquet", "parquet"), (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "jsonl"), (".csv", "csv"), (".tsv", "csv")):
        if ext in suffixes:
            return name
    raise ValueError(f"cannot tell the format of {path.name}; pass --format {'|'.join(FORMATS)}")


def count_rows(path: Path, fmt: str) -> int:
    """The rows of a file, before importing it (the total of a progress bar).

    Parquet: exact, from the footer. JSON Lines: the lines; CSV: the lines after the
    header (both an upper bound when the file has blank lines or a quoted value holds a
    line break). Text files are scanned in 1 MiB blocks, a fraction of the import's cost.
    """
    if fmt == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(lines - 1, 0) if fmt == "csv" else lines


def read_batches(path: Path, fmt: str) -> Iterator[pa.Table]:
    """The file as pyarrow tables of about ``BATCH_ROWS`` rows, strings kept as strings."""
    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
            yield pa.Table.from_batches([batch])
    elif fmt == "csv":
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        convert = pacsv.ConvertOptions(strings_can_be_null=True, column_types={
            name: pa.string() for name in ("id", "user_id", "item_id", "session_id", "recommendation_id", "timestamp", "created_at", "brand", "title")
        })
        reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
                                read_options=pacsv.ReadOptions(block_size=32 << 20), convert_options=convert)
        for batch in reader:
            yield pa.Table.from_batches([batch])
    elif fmt == "jsonl":
        table = pajson.read_json(path, read_options=pajson.ReadOptions(block_size=32 << 20))
        for start in range(0, table.num_rows, BATCH_ROWS):
            yield table.slice(start, BATCH_ROWS)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def _as_json_strings(column: pa.ChunkedArray) -> list[str | None]:
    """Object/list columns as JSON text (CSV files already carry JSON or '|'-joined lists)."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_pylist()
    return [None if v is None else json.dumps(v) for v in column.to_pylist()]


def _epoch_seconds(column: pa.ChunkedArray, name: str, offset: int) -> np.ndarray:
    """Timestamps as float epoch seconds from numbers, ISO strings or timestamp columns."""
    if pa.types.is_timestamp(column.type):
        return pc.divide(pc.cast(pc.cast(column, pa.timestamp("us", "UTC")), pa.int64()), 1e6).to_numpy(zero_copy_only=False)
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    try:
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        pass
    try:
        parsed = pc.cast(pc.strptime(column, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=False), pa.int64())
    except pa.ArrowInvalid:
        from tastemaker.schema.timestamps import parse_timestamp

        values = []
        for i, v in enumerate(column.to_pylist()):
            try:
                try:  # a file may mix epoch seconds (text in CSV) and ISO 8601
                    v = float(v) if v is not None else v
                except ValueError:
                    pass
                values.append(parse_timestamp(v) if v is not None else np.nan)
            except ValueError as exc:
                raise ValidationFailed([FieldError(f"row {offset + i + 1}/{name}", str(exc))], title="Invalid import file") from None
        return np.asarray(values, dtype=np.float64)
    return pc.divide(parsed, 1e6).to_numpy(zero_copy_only=False)


def event_columns(table: pa.Table, registry: EventSchemaRegistry, offset: int, source: str, now: float) -> dict[str, list]:
    """Validate an events batch and return its columns (only those present) as Python lists."""
    names = set(table.column_names)
    n = table.num_rows
    missing = [c for c in ("type", "user_id") if c not in names]
    if missing:
        raise ValidationFailed([FieldError(c, "column is required") for c in missing], title="Invalid import file")

    def fail(row: int, field: str, reason: str) -> ValidationFailed:
        return ValidationFailed([FieldError(f"row {offset + row + 1}/{field}", reason)], title="Invalid import file")

    cols: dict[str, list] = {}
    if "id" in names:
        ids = table.column("id").cast(pa.string())
        cols["id"] = ids.to_pylist()
    else:  # re-importing the same file dedupes: ids derive from file name and row
        cols["id"] = [f"{source}:{offset + i + 1}" for i in range(n)]
    for name in ("type", "user_id"):
        column = table.column(name).cast(pa.string())
        nulls = pc.is_null(column)
        if pc.any(nulls).as_py():
            raise fail(int(np.flatnonzero(nulls.to_numpy(zero_copy_only=False))[0]), name, "is required")
        cols[name] = column.to_pylist()
    for i, value in enumerate(cols["id"]):
        if not value:
            raise fail(i, "id", "is required")
    types = pc.unique(table.column("type")).to_pylist()
    for t in types:
        schema = registry.latest(t)
        if schema is None:
            row = cols["type"].index(t)
            raise fail(row, "type", unknown_type_reason(t, [s.type for s in registry.all_latest()]))
        for req in schema.requires:
            field = "item_id" if req == "item" else req
            present = [c for c in (["item_id", "item_ids"] if req == "item" else [field]) if c in names]
            mask = pc.equal(table.column("type"), t)
            if not present:
                raise fail(cols["type"].index(t), field, f"a '{t}' event requires {field}")
            ok = pc.is_valid(table.column(present[0]))
            for extra in present[1:]:
                ok = pc.or_(ok, pc.is_valid(table.column(extra)))
            bad = pc.and_(mask, pc.invert(ok))
            if pc.any(bad).as_py():
                raise fail(int(np.flatnonzero(bad.to_numpy(zero_copy_only=False))[0]), field, f"a '{t}' event requires {field}")
    if "timestamp" in names:
        ts = _epoch_seconds(table.column("timestamp"), "timestamp", offset)
        ts = np.where(np.isnan(ts), now, ts)
        bad = np.flatnonzero((ts < 0) | (ts > now + 86_400.0))
        if len(bad):
            raise fail(int(bad[0]), "timestamp", "must be epoch seconds between 1970 and tomorrow")
        cols["ts"] = ts.tolist()
    else:
        cols["ts"] = [now] * n
    for name in ("session_id", "item_id", "query", "recommendation_id"):
        if name in names:
            cols[name] = table.column(name).cast(pa.string()).to_pylist()
    if "value" in names:
        try:
            cols["value"] = pc.cast(table.column("value"), pa.float64()).to_pylist()
        except pa.ArrowInvalid as exc:
            for i, v in enumerate(table.column("value").to_pylist()):  # name the first bad row
                try:
                    float(v) if v is not None else None
                except (TypeError, ValueError):
                    raise fail(i, "value", f"not a number: {v!r}") from None
            raise ValidationFailed([FieldError("value", f"not a number: {exc}")], title="Invalid import file") from None
        _check_values(cols["value"], cols["type"], registry, fail)
    for name in ("item_ids", "context", "properties"):
        if name in names:
            cols[name] = _as_json_strings(table.column(name))
    if "item_ids" in cols:  # CSV: "a|b|c"
        cols["item_ids"] = [v if v is None or v.startswith("[") else json.dumps(v.split("|")) for v in cols["item_ids"]]
    return cols


def _check_values(values: list, types: list[str], registry: EventSchemaRegistry, fail) -> None:
    """Every value finite and within its type's range (as at ingest): one absurd value in the
    log would otherwise reach training and the online state; the first bad row is named."""
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    present = ~np.isnan(arr)
    if not present.any():
        return
    kinds = np.array(types, dtype=object)
    for t in set(types):
        schema = registry.latest(t)
        low = -VALUE_LIMIT if schema is None or schema.value_min is None else schema.value_min
        high = VALUE_LIMIT if schema is None or schema.value_max is None else schema.value_max
        with np.errstate(invalid="ignore"):
            bad = present & (kinds == t) & ~((arr >= max(low, -VALUE_LIMIT)) & (arr <= min(high, VALUE_LIMIT)))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            reasons = value_errors(float(arr[row]), schema, "value") if schema is not None else []
            raise fail(row, "value", reasons[0].reason if reasons else "out of range")


def documents(table: pa.Table, cls: type, offset: int) -> list:
    """Rows as Item/User records; CSV lists are '|'-joined, CSV objects are JSON text."""
    rows = table.to_pylist()
    out = []
    for i, row in enumerate(rows):
        clean = {k: v for k, v in row.items() if v is not None}
        for name in LIST_FIELDS:
            if isinstance(clean.get(name), str):
                clean[name] = [x for x in clean[name].split("|") if x]
        for name in OBJECT_FIELDS:
            if isinstance(clean.get(name), str):
                try:
                    clean[name] = json.loads(clean[name])
                except json.JSONDecodeError:
                    raise ValidationFailed([FieldError(f"row {offset + i + 1}/{name}", "is not a JSON object")], title="Invalid import file") from None
        if "id" in clean:
            clean["id"] = str(clean["id"])
        if isinstance(clean.get("created_at"), str):  # CSV cells are text: epoch seconds stay numbers
            try:
                clean["created_at"] = float(clean["created_at"])
            except ValueError:
                pass  # ISO 8601, parsed by normalize_documents
        try:
            out.append(msgspec.convert(clean, cls, strict=False))
        except msgspec.ValidationError as exc:
            raise ValidationFailed(from_msgspec(exc, f"row {offset + i + 1}").errors, title="Invalid import file") from None
    return _rows_named(normalize_documents, out, offset)


def _rows_named(check: Callable[[list], list], docs: list, offset: int) -> list:
    """Run ``check`` and name failing records as rows of the file (``row 3/created_at``)."""
    try:
        return check(docs)
    except ValidationFailed as exc:
        errors = [FieldError(re.sub(r"^/(\d+)", lambda m: f"row {offset + int(m.group(1)) + 1}", e.field), e.reason) for e in exc.errors]
        raise ValidationFailed(errors, title="Invalid import file") from None


ProgressFn = Callable[[int], None]


def refuse_erased(user_ids: list, erased: Callable[[Iterable[str]], list[str]], offset: int) -> None:
    gone = set(erased(str(u) for u in user_ids))
    if gone:
        row = next(i for i, u in enumerate(user_ids) if str(u) in gone)
        raise ValidationFailed([FieldError(f"row {offset + row + 1}/user_id", "this user was erased; events for an "
                                           "erased user are refused")], title="Invalid import file", status=409)


def import_events(stores, registry: EventSchemaRegistry, path: Path, fmt: str | None = None,
                  progress: ProgressFn | None = None, now: float | None = None,
                  erased: Callable[[Iterable[str]], list[str]] | None = None,
                  pseudonymize: Callable[[str], str] | None = None) -> tuple[int, int]:
    """Import an events file atomically; returns (inserted, duplicates).

    ``erased`` names the erased users among some ids (privacy.tombstones): a file with an
    event of one is refused whole (ValidationFailed naming the first such row), as a batch
    over HTTP is, so a re-import of an old export cannot bring an erased person back.
    ``pseudonymize`` (privacy.pseudonyms) maps each user id to the id stored, after the checks."""
    import time

    fmt = detect_format(path, fmt)
    now = time.time() if now is None else now
    source = path.name

    def batches() -> Iterator[dict[str, list]]:
        offset = 0
        for table in read_batches(path, fmt):
            cols = event_columns(table, registry, offset, source, now)
            if erased is not None:
                refuse_erased(cols["user_id"], erased, offset)
            if pseudonymize is not None:
                cols["user_id"] = [pseudonymize(str(u)) for u in cols["user_id"]]
            offset += table.num_rows
            yield cols
            if progress:
                progress(table.num_rows)

    return stores.events.append_columns(batches())


def import_documents(stores, kind: str, path: Path, fmt: str | None = None, progress: ProgressFn | None = None,
                     pseudonymize: Callable[[str], str] | None = None) -> int:
    """Import an items or users file atomically; returns how many records were upserted
    (users under ``pseudonymize(id)`` when given: privacy.pseudonyms)."""
    fmt = detect_format(path, fmt)
    cls, store = (Item, stores.items) if kind == "items" else (User, stores.users)
    docs: list = []
    for table in read_batches(path, fmt):
        docs.extend(documents(table, cls, len(docs)))
        if progress:
            progress(table.num_rows)
    docs = _rows_named(normalize_documents, docs, 0)
    if pseudonymize is not None and kind == "users":
        docs = [msgspec.structs.replace(d, id=pseudonymize(d.id)) for d in docs]
    if docs:
        store.upsert(docs)
    return len(docs)
