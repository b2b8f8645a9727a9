"""The embedded backend: one SQLite database in WAL mode per data dir."""

from tastemaker.storage.sqlite.database import Database

__all__ = ["Database"]
