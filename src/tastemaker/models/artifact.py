"""What a trained model version is once stored: the fitted family plus the item id of each
of its columns. The training job writes it, the model registry stores it, serving loads it,
so it lives in the models layer below all three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ModelArtifact:
    """What serving needs: the fitted family and the item id of each of its columns."""

    model: Any
    item_ids: list[str]
    family: str
    params: dict[str, Any]
