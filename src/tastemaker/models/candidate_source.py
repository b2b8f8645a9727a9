"""What serving asks for candidates: a :class:`CandidateSource` (see DESIGN.md, "Interfaces worth keeping small").

Not to be confused with :class:`.family.ModelFamily`, the learned family (interaction rows in,
scores over all items out) that training fits: serving wraps a fitted family in a source
(``serving.learned.LearnedModel``); :class:`.popularity.PopularityModel` is a source with no
family behind it.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState


class CandidateSource(Protocol):
    """Proposes items for a user from the online state; scores are comparable within one call."""

    name: str
    version: str
    #: per placement, the source blend learned with this version (empty: the placements' own)
    blends: Mapping[str, Mapping[str, Any]]

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(item indices, scores), best first, at most ``n``."""

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(positions, vectors)``: a vector per item the source knows, at those state
        positions (for diversity "by embeddings"); None when it has none."""
