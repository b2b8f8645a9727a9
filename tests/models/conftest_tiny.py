"""A tiny known-answer data set shared by the model-family tests (not a conftest: imported)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

N_USERS, N_ITEMS = 12, 12
A_ITEMS, B_ITEMS = list(range(6)), list(range(6, 12))


def tiny() -> tuple[sp.csr_matrix, sp.csr_matrix, list[dict]]:
    """Two clear clusters: users 0-5 like items 0-5, users 6-11 like items 6-11.

    Every user rates 5 items of their own cluster 5 stars and 2 items of the other cluster 1
    star. Returns (weights 0.5..1.5 from the stars, event times, item dicts).
    """
    rows, cols, stars = [], [], []
    for u in range(N_USERS):
        own = A_ITEMS if u < 6 else B_ITEMS
        other = B_ITEMS if u < 6 else A_ITEMS
        for j in range(5):
            rows.append(u); cols.append(own[(u + j) % 6]); stars.append(5.0)
        for j in range(2):  # and two items of the other cluster, 1 star
            rows.append(u); cols.append(other[(u + 2 * j) % 6]); stars.append(1.0)
    stars = np.asarray(stars)
    X = sp.csr_matrix((0.5 + (stars - 1) / 4, (rows, cols)), shape=(N_USERS, N_ITEMS), dtype=np.float32)
    t = 1_700_000_000.0 + np.arange(len(rows)) * 30.0  # one event every 30 s, user by user
    T = sp.csr_matrix((t, (rows, cols)), shape=(N_USERS, N_ITEMS), dtype=np.float64)
    items = []
    for i in range(N_ITEMS):
        if i in A_ITEMS:
            items.append({"id": f"a{i}", "title": f"Funny comedy laughs {i}", "description": "a light comedy",
                          "categories": ["Comedy"], "brand": "Jolly", "tags": ["funny"]})
        else:
            items.append({"id": f"b{i}", "title": f"Scary horror ghosts {i}", "description": "a dark horror film",
                          "categories": ["Horror"], "brand": "Dread", "tags": ["scary"]})
    return X, T, items


def row(items: list[int], n: int = N_ITEMS, value: float = 1.0) -> sp.csr_matrix:
    """One interaction row of width ``n`` with ``value`` at ``items``."""
    return sp.csr_matrix((np.full(len(items), value, np.float32), (np.zeros(len(items), int), items)),
                         shape=(1, n), dtype=np.float32)
