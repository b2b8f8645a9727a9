"""What a trained model version is once stored: the fitted family plus the item id of each
of its columns. The training job writes it, the model registry stores it, serving loads it,
so it lives in the models layer below all three."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelArtifact:
    """What serving needs: the fitted family and the item id of each of its columns."""

    model: Any
    item_ids: list[str]
    family: str
    params: dict[str, Any]
    # per placement, the source blend learned with this version (training.blends):
    # {"weights": {source: w}, "n": {source: quota}, "ndcg": ..., "start_ndcg": ..., "users": ...}
    blends: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the factor the training cells were multiplied by (datasets.interactions.unit_scale);
    # serving multiplies a user's live row by it too, so the model sees what it was fitted on
    input_scale: float = 1.0

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("blends", {})  # an artifact pickled before blends were learned: none
        state.setdefault("input_scale", 1.0)  # ... or before cells were scaled: raw weights
        self.__dict__.update(state)
