"""Settings, read once from the environment and the command line.

Backends are chosen here and only here (``TASTEMAKER_BACKEND``); nothing below ``api``
knows which one runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("TASTEMAKER_DATA_DIR", "./data")))
    backend: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_BACKEND", "sqlite"))
    admin_key: str | None = field(default_factory=lambda: os.environ.get("TASTEMAKER_ADMIN_KEY"))
    # Durable means fsync on every commit; turn off only for throwaway test data.
    durable: bool = field(default_factory=lambda: os.environ.get("TASTEMAKER_DURABLE", "1") != "0")
    # Retrain the default family this often (seconds); 0 turns periodic retraining off.
    retrain_every_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_RETRAIN_EVERY_S", "0")))
    session_timeout_s: float = 1800.0
    # A snapshot pickles the whole state in a forked child (a core for seconds): not too often.
    snapshot_every_events: int = 1_000_000
    require_catalog: bool = True
    # Logged impressions (ranker training data) older than this are deleted; 0 keeps them all.
    impression_retention_days: float = field(
        default_factory=lambda: float(os.environ.get("TASTEMAKER_IMPRESSION_RETENTION_DAYS", "90")))
    # Placement configuration (YAML); default ``<data dir>/placements.yaml`` when it exists.
    placements_file: Path | None = field(
        default_factory=lambda: Path(os.environ["TASTEMAKER_PLACEMENTS"]) if os.environ.get("TASTEMAKER_PLACEMENTS") else None)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tastemaker.db"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def placements_path(self) -> Path:
        """The placement file servers read and the admin API writes."""
        return self.placements_file if self.placements_file is not None else self.data_dir / "placements.yaml"

    @property
    def rankers_dir(self) -> Path:
        """Learned rankers, one file per placement (``tastemaker train-ranker`` writes them)."""
        return self.models_dir / "rankers"

    @property
    def snapshot_path(self) -> Path:
        return self.data_dir / "state.snapshot"
