"""The model contract every family implements (see DESIGN.md, "Interfaces worth keeping small")."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tastemaker.features.state import OnlineState
from tastemaker.features.user_state import UserState


class CandidateModel(Protocol):
    """A model that proposes items for a user; scores are comparable within one call."""

    name: str
    version: str

    def candidates(self, state: OnlineState, user: UserState | None, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(item indices, scores), best first, at most ``n``."""
