"""Item metadata as side information: the helpers, and EASE / ALS fitted with them."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tastemaker.models.als import ALS
from tastemaker.models.ease import EASE, ease_from_gram
from tastemaker.models.hybrid import scaled_clone
from tastemaker.models.session_als import SessionALS
from tastemaker.models.session_ease import SessionEASE
from tastemaker.models.side_information import (
    TIME_BINS,
    add_content_gram,
    content_rows,
    item_vectors,
    time_vectors,
)
from tests.models.conftest_tiny import row, tiny

# Five films; nobody watched 3 ("The Empire Strikes Back"), which shares words with 0 and 1.
FILMS = [{"title": "Star Wars", "categories": ["Sci-Fi"]},
         {"title": "Return of the Jedi", "categories": ["Sci-Fi"]},
         {"title": "Fargo", "categories": ["Crime"]},
         {"title": "The Empire Strikes Back (Star Wars)", "categories": ["Sci-Fi"]},
         {"title": "Heat", "categories": ["Crime"]}]
X5 = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 1], [0, 0, 1, 0, 1], [1, 0, 1, 0, 1]],
                            np.float32))


def test_item_vectors_are_aligned_to_the_columns():
    assert item_vectors(None, 5) is None
    assert item_vectors([{}, {}], 2) is None  # no text and no attribute at all
    V = item_vectors(FILMS[:3], 5)  # two trailing items without a record
    assert V.shape[0] == 5
    np.testing.assert_allclose(sp.linalg.norm(V, axis=1), [1, 1, 1, 0, 0], atol=1e-6)


def test_add_content_gram_adds_w_v_vt_block_by_block():
    V = item_vectors(FILMS, 5).toarray().astype(np.float64)
    G = np.arange(25, dtype=np.float64).reshape(5, 5)
    expected = G + 3.0 * V @ V.T
    assert add_content_gram(G, FILMS, 3.0, block=2)  # blocks of 2 rows: 3 blocks
    np.testing.assert_allclose(G, expected, rtol=1e-6)
    assert expected[0, 3] > expected[0, 2]  # Star Wars is closer to Empire than to Fargo
    untouched = np.zeros((5, 5))
    assert not add_content_gram(untouched, FILMS, 0.0) and not add_content_gram(untouched, None, 3.0)
    assert not untouched.any()


def test_ease_with_side_information_is_the_closed_form_of_the_sum():
    V = item_vectors(FILMS, 5).toarray().astype(np.float64)
    G = X5.toarray().astype(np.float64).T @ X5.toarray() + 2.0 * V @ V.T
    expected = ease_from_gram(G, 0.5)
    model = EASE(lambda_=0.5, content_weight=2.0).fit(X5, FILMS)
    np.testing.assert_allclose(model.B, expected, rtol=1e-5, atol=1e-6)
    # without items (or with weight 0) it is plain EASE
    plain = EASE(lambda_=0.5).fit(X5).B
    np.testing.assert_array_equal(EASE(lambda_=0.5, content_weight=2.0).fit(X5).B, plain)
    np.testing.assert_array_equal(EASE(lambda_=0.5, content_weight=0.0).fit(X5, FILMS).B, plain)
    # the weight is data-scaled like lambda
    half = scaled_clone(SessionEASE(lambda_=8.0, content_weight=6.0), 0.5)
    assert (half.lambda_, half.content_weight) == (4.0, 3.0)


def test_side_information_reaches_an_item_nobody_touched():
    fan = row([0], n=5)  # watched Star Wars only
    plain = EASE(lambda_=0.5).fit(X5).score(fan)[0]
    side = EASE(lambda_=0.5, content_weight=2.0).fit(X5, FILMS).score(fan)[0]
    assert plain[3] == 0.0  # no co-occurrence: collaborative EASE cannot score it
    assert side[3] > 0.0 and side[3] > side[2]  # the sequel ranks above Fargo


def test_als_with_side_information_is_implicit_on_the_stacked_matrix():
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    X, _, items = tiny()
    params = {"factors": 4, "regularization": 1.0, "alpha": 5.0, "iterations": 8, "random_state": 2}
    ours = ALS(**params, content_weight=2.0).fit(X, items)
    F = content_rows(items, X.shape[1], 2.0)
    assert F.shape[1] == X.shape[1] and F.shape[0] > 0
    with threadpool_limits(1, "blas"):
        raw = AlternatingLeastSquares(**params)
        raw.fit(sp.vstack([X, F]).tocsr().astype(np.float32), show_progress=False)
    np.testing.assert_allclose(ours.item_factors, raw.item_factors, rtol=1e-5, atol=1e-6)
    assert content_rows(None, 12, 2.0).shape == (0, 12) and content_rows(items, 12, 0.0).shape == (0, 12)


def test_session_als_passes_the_items_on():
    X, T, items = tiny()
    params = {"factors": 4, "regularization": 1.0, "alpha": 5.0, "iterations": 8, "random_state": 2}
    with_items = SessionALS(**params, content_weight=2.0).fit(X, items, timestamps=T)
    without = SessionALS(**params, content_weight=2.0).fit(X, timestamps=T)
    assert not np.allclose(with_items.item_factors, without.item_factors)


def test_time_vectors_relate_items_published_close_together():
    year = 365.25 * 86400
    dated = [{"created_at": 25 * year}, {"created_at": 25.5 * year}, {"created_at": 60 * year}, {},
             {"created_at": "not a number"}]
    T = time_vectors(dated).toarray()
    assert T.shape == (5, TIME_BINS)
    np.testing.assert_allclose(np.linalg.norm(T, axis=1), [1, 1, 1, 0, 0], atol=1e-6)
    assert T[0] @ T[1] > 0.9 and T[0] @ T[2] == 0.0  # half a year apart vs 35 years apart
    assert time_vectors([{"created_at": 5.0}, {"created_at": 5.0}]) is None  # no spread
    assert time_vectors([{}, {}]) is None


def test_item_vectors_carry_the_time_block_beside_the_text():
    year = 365.25 * 86400
    films = [dict(f, created_at=y * year) for f, y in zip(FILMS, (7, 26, 26, 10, 25))]
    V = item_vectors(films, 5)
    text = item_vectors(FILMS, 5)
    assert V.shape[1] == text.shape[1] + TIME_BINS
    np.testing.assert_allclose(sp.linalg.norm(V, axis=1), 1.0, atol=1e-6)
    sim = (V @ V.T).toarray()
    # "Return of the Jedi" (Sci-Fi) and "Fargo" (Crime) share no word, only their year
    assert (text @ text.T).toarray()[1, 2] == 0.0
    assert sim[1, 2] > 0.0 and sim[1, 2] > sim[0, 2]  # Star Wars is 19 years from Fargo


def test_item_vectors_are_reused_for_the_same_catalogue_and_rebuilt_when_it_changes():
    first = item_vectors(FILMS, 5)
    assert item_vectors([dict(f) for f in FILMS], 5) is first  # equal content: the same result
    renamed = [dict(f) for f in FILMS]
    renamed[2]["title"] = "Star Wars Holiday Special"  # Fargo becomes a Star Wars film
    changed = item_vectors(renamed, 5)
    assert changed is not first
    assert (first[2] @ first[0].T).toarray()[0, 0] == 0.0
    assert (changed[2] @ changed[0].T).toarray()[0, 0] > 0.0
    assert item_vectors(FILMS, 6) is not first and item_vectors(FILMS, 6).shape[0] == 6
