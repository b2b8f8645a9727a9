"""Fast, realistic synthetic shop data with a learnable signal.

The generative story (all vectorised numpy, deterministic given ``seed``):

* categories have centroids in a small latent space; each item sits near its
  category centroid, so category membership correlates with item vectors;
* item popularity is Zipf-like; users have latent tastes (a mix of categories);
* users produce sessions of a few steps; the first step is drawn from the
  user's taste (category by taste, then item by popularity x affinity), later
  steps mostly stay near the previous item, which makes co-visitation real;
* every step is a view plus an affinity-dependent funnel (click, add_to_cart,
  purchase, rating, like/dislike, share); sessions may open with a search;
* events are seconds-minutes apart inside a session, sessions hours-days apart;
* with ``churn > 0``, that share of users drops out for good at a time drawn uniformly over
  10-90% of the span (:func:`churn_times`, the known truth): all their sessions fall before it.

Example:
    >>> ds = generate(n_users=50, n_items=200, n_events=1_000, seed=7)
    >>> ds.events.num_rows, len(ds.items), len(ds.users)
    (1000, 200, 50)
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tastemaker.datasets.frame import EVENT_SCHEMA, Dataset

_DIM = 12
_WORDS = ("shoes jackets headphones laptops novels cookware sofas lamps toys puzzles watches "
          "backpacks cameras phones tablets monitors keyboards mugs teapots candles rugs towels "
          "perfume lipstick shampoo vitamins yoga-mats bicycles tents skis guitars vinyl comics "
          "boardgames sneakers dresses jeans scarves sunglasses rings plants seeds drills paint "
          "pet-food leashes strollers diapers coffee chocolate").split()
# One style word per latent dimension: tags/descriptions leak taste into content features.
_STYLES = "classic sporty eco premium budget vintage minimal bold kids pro outdoor cozy".split()
_BRAND_A = ("Acme Nova Zen Terra Lumo Vanta Pico Orbi Kiro Sola Brio Mato Fen Hexa Quill Rivo"
            .split())
_BRAND_B = "works labs co goods craft line wear home gear studio".split()
_COLORS = "black white red blue green grey beige navy pink yellow".split()
# Funnel columns, in the order events of one step happen.
_COLS = ("search", "view", "click", "add_to_cart", "purchase", "rating", "like", "dislike", "share")
_P_STAY = 0.7  # share of steps that continue from the previous item (co-visitation)
_GAP_MEDIAN = np.array([0.0, 40.0, 4.0, 25.0, 80.0, 20.0, 6.0, 6.0, 10.0])  # seconds


def _ids(prefix: str, n: int) -> pa.Array:
    """``prefix0 .. prefix{n-1}`` built by Arrow kernels (no Python strings)."""
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(np.arange(n)), pa.string()), "")


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _catalog(rng: np.random.Generator, n_items: int, n_cat: int, start: float):
    """Item arrays + records. Category sizes and item popularity are both skewed."""
    cent = _unit(rng.normal(size=(n_cat, _DIM)))
    cat_w = 1.0 / (np.arange(n_cat) + 3.0) ** 0.8
    cat = rng.choice(n_cat, size=n_items, p=cat_w / cat_w.sum())
    vec = _unit(cent[cat] + 0.3 * rng.normal(size=(n_items, _DIM)))
    pop = (rng.permutation(n_items) + 1.0) ** -0.85  # Zipf over a random rank
    words = [_WORDS[c % len(_WORDS)] + (f"-{c // len(_WORDS)}" if c >= len(_WORDS) else "")
             for c in range(n_cat)]
    n_brands = int(np.clip(n_items // 40, 3, 4000))
    brands = [_BRAND_A[b % 16] + _BRAND_B[(b // 16) % 10] + (f" {b // 160}" if b >= 160 else "")
              for b in range(n_brands)]
    brand = (cat * 7 + rng.integers(0, 6, n_items)) % n_brands  # brands specialise
    has_brand = rng.random(n_items) > 0.1
    price = np.maximum(np.round(np.exp(rng.normal(3.3, 0.8, n_cat))[cat]
                                * np.exp(rng.normal(0, 0.35, n_items)), 2), 0.99)
    margin = np.round(rng.uniform(0.05, 0.55, n_items), 3)
    stock = np.where(rng.random(n_items) < 0.08, 0, rng.negative_binomial(2, 0.05, n_items) + 1)
    created = start - rng.uniform(0, 365 * 86400.0, n_items)
    top2 = np.argsort(-vec, axis=1)[:, :2]  # style tags leak taste into content features
    color = rng.integers(0, len(_COLORS), n_items)
    on_sale = rng.random(n_items) < 0.1
    items = []
    for i, (c, b, hb, p, m, s, t, (s0, s1), col, sale) in enumerate(zip(
            cat.tolist(), brand.tolist(), has_brand.tolist(), price.tolist(), margin.tolist(),
            stock.tolist(), created.tolist(), top2.tolist(), color.tolist(), on_sale.tolist())):
        br = brands[b] if hb else None
        items.append({
            "id": f"i{i}", "title": f"Item {i} {words[c]}",
            "description": f"A {_STYLES[s0]} {words[c]}" + (f" by {br}." if br else "."),
            "categories": [words[c]], "brand": br, "price": p, "margin": m, "stock": s,
            "tags": [_STYLES[s0], _STYLES[s1]] + (["sale"] if sale else []),
            "created_at": t, "properties": {"color": _COLORS[col]},
        })
    return cent, cat, vec, pop, price, stock, words, items


def _users(rng: np.random.Generator, n_users: int, cent: np.ndarray):
    """Tastes mix two category centroids; activity is heavy-tailed."""
    a, b = rng.integers(0, len(cent), (2, n_users))
    mix = rng.uniform(0.5, 1.0, (n_users, 1))
    vec = _unit(mix * cent[a] + (1 - mix) * cent[b] + 0.15 * rng.normal(size=(n_users, _DIM)))
    activity = rng.lognormal(0.0, 1.0, n_users)
    ages = ["18-24", "25-34", "35-44", "45-54", "55+"]
    countries = ["US", "DE", "FR", "GB", "BR", "IN", "JP"]
    devices = ["mobile", "desktop", "tablet"]
    r = rng.random((n_users, 3)) < np.array([0.95, 0.9, 0.6])
    trait = rng.integers(0, 5 * 7 * 3, n_users)
    users = [{"id": f"u{u}",
              "traits": {"age_band": ages[t % 5], "country": countries[(t // 5) % 7],
                         "device": devices[t // 35]},
              "consent": {"personalization": p, "analytics": an, "marketing": mk}}
             for u, (t, (p, an, mk)) in enumerate(zip(trait.tolist(), r.tolist()))]
    return vec, activity, users


class _Sampler:
    """Popularity-weighted candidates within a category, picked by affinity."""

    def __init__(self, rng: np.random.Generator, cat: np.ndarray, pop: np.ndarray, n_cat: int):
        self.rng = rng
        self.order = np.argsort(cat, kind="stable")
        self.cum = np.cumsum(pop[self.order])
        bounds = np.searchsorted(cat[self.order], np.arange(n_cat + 1))
        self.lo, self.hi = bounds[:-1], bounds[1:]
        base = np.concatenate([[0.0], self.cum])
        self.base, self.mass = base[self.lo], base[self.hi] - base[self.lo]

    def pick(self, cats: np.ndarray, query: np.ndarray, vec: np.ndarray, beta: float,
             avoid: np.ndarray | None = None, k: int = 8) -> np.ndarray:
        r = self.base[cats, None] + self.rng.random((len(cats), k)) * self.mass[cats, None]
        pos = np.clip(np.searchsorted(self.cum, r, side="right"),
                      self.lo[cats, None], self.hi[cats, None] - 1)
        cand = self.order[pos]
        score = beta * np.einsum("nkd,nd->nk", vec[cand], query)
        if avoid is not None:  # discourage re-viewing the very same item
            score -= 4.0 * (cand == avoid[:, None])
        score += self.rng.gumbel(size=score.shape)  # Gumbel-max = softmax sampling
        return cand[np.arange(len(cats)), score.argmax(1)]


def _walk(rng, sampler, sess_user, length, uvec, ivec, icat, cent, cat_mass):
    """Item of every step; steps are session-contiguous. Loops over positions only."""
    logits = 8.0 * (uvec @ cent.T) + np.log(cat_mass + 1e-12)
    cdf = np.cumsum(np.exp(logits - logits.max(1, keepdims=True)), axis=1)
    cdf /= cdf[:, -1:]
    offsets = np.concatenate([[0], np.cumsum(length)[:-1]])
    items = np.empty(int(length.sum()), dtype=np.int64)
    for t in range(int(length.max(initial=0))):
        active = np.flatnonzero(length > t)
        idx, users = offsets[active] + t, sess_user[active]
        fresh = np.ones(len(active), bool) if t == 0 else rng.random(len(active)) >= _P_STAY
        u = users[fresh]
        cats = np.minimum((cdf[u] < rng.random(len(u))[:, None]).sum(1), len(cent) - 1)
        items[idx[fresh]] = sampler.pick(cats, uvec[u], ivec, beta=6.0)
        if t:  # stay near the previous item: same category, close latent vector
            prev, u = items[idx[~fresh] - 1], users[~fresh]
            q = 0.8 * ivec[prev] + 0.3 * uvec[u]
            items[idx[~fresh]] = sampler.pick(icat[prev], q, ivec, beta=6.0, avoid=prev)
    return items


def _funnel(rng: np.random.Generator, first: np.ndarray, aff: np.ndarray, in_stock: np.ndarray):
    """Boolean (steps x _COLS) matrix of which events each step emits, plus ratings.

    Affinity (user . item) drives click/cart/like so that every event type, not
    only views, carries the user's taste; out-of-stock items cannot be bought.
    """
    n = len(aff)
    f = np.zeros((n, len(_COLS)), bool)
    f[:, 0] = first & (rng.random(n) < 0.12)  # some sessions open with a search
    f[:, 1] = True
    lift = _sigmoid(5 * aff - 2.5)
    f[:, 2] = rng.random(n) < 0.08 + 0.35 * lift
    f[:, 3] = f[:, 2] & in_stock & (rng.random(n) < 0.1 + 0.3 * lift)
    f[:, 4] = f[:, 3] & (rng.random(n) < 0.5)
    f[:, 5] = rng.random(n) < 0.03 + 0.3 * f[:, 4]  # buyers rate more often
    f[:, 6] = rng.random(n) < 0.08 * _sigmoid(6 * aff - 3)
    f[:, 7] = ~f[:, 6] & (rng.random(n) < 0.05 * _sigmoid(1 - 6 * aff))
    f[:, 8] = rng.random(n) < 0.01
    rating = np.clip(np.round(3.0 + 3.0 * (aff - 0.35) + rng.normal(0, 0.7, n)), 1, 5)
    return f, rating


def churn_times(n_users: int, seed: int = 0, churn: float = 0.0, start: float = 1_700_000_000.0,
                days: float = 30.0) -> np.ndarray:
    """When each user of :func:`generate` (same arguments) drops out, epoch seconds; ``inf``
    for users who never do. Its own random stream: ``churn=0`` leaves the data unchanged.

    >>> t = churn_times(1000, seed=3, churn=0.25, days=100)
    >>> round(float(np.isfinite(t).mean()), 2), bool(np.all(t[np.isfinite(t)] < 1_700_000_000 + 90 * 86400))
    (0.25, True)
    """
    if not 0.0 <= churn <= 1.0:
        raise ValueError("churn is a share of users, in [0, 1]")
    rng = np.random.default_rng([seed, 18])
    span = days * 86400.0
    out = np.full(n_users, np.inf)
    leaves = rng.random(n_users) < churn
    out[leaves] = start + span * rng.uniform(0.1, 0.9, int(leaves.sum()))
    return out


def generate(n_users: int, n_items: int, n_events: int, seed: int = 0, n_categories: int = 50,
             start: float = 1_700_000_000.0, days: float = 30.0, churn: float = 0.0) -> Dataset:
    """Generate a deterministic synthetic :class:`Dataset` with exactly ``n_events`` events.

    Example:
        >>> generate(10, 30, 100, seed=1).events.column_names[:3]
        ['id', 'type', 'user_id']
    """
    if min(n_users, n_items, n_categories) < 1 or n_events < 0 or days <= 0:
        raise ValueError("need n_users, n_items, n_categories >= 1, n_events >= 0, days > 0")
    rng = np.random.default_rng(seed)
    cent, icat, ivec, pop, price, stock, words, items = _catalog(rng, n_items, n_categories, start)
    uvec, activity, users = _users(rng, n_users, cent)
    sampler = _Sampler(rng, icat, pop, n_categories)
    cat_mass = np.bincount(icat, weights=pop, minlength=n_categories)
    user_cdf = np.cumsum(activity) / activity.sum()
    n_sess = n_events // 4 + 16  # ~5 events per session: ~25% headroom, one pass
    while True:  # oversample sessions, then keep a random prefix with exactly n_events
        length = np.minimum(rng.geometric(0.28, n_sess), 24)
        sess_user = np.minimum(np.searchsorted(user_cdf, rng.random(n_sess)), n_users - 1)
        step_item = _walk(rng, sampler, sess_user, length, uvec, ivec, icat, cent, cat_mass)
        step_sess = np.repeat(np.arange(n_sess), length)
        first = np.zeros(len(step_item), bool)
        first[np.concatenate([[0], np.cumsum(length)[:-1]])] = True
        aff = np.einsum("nd,nd->n", uvec[sess_user[step_sess]], ivec[step_item])
        f, rating = _funnel(rng, first, aff, stock[step_item] > 0)
        per_sess = np.bincount(step_sess, weights=f.sum(1), minlength=n_sess).astype(np.int64)
        if per_sess.sum() >= n_events:
            break
        n_sess = int(n_sess * 1.5) + 10
    step, col = np.nonzero(f)  # row-major: events ordered by session, step, funnel
    sess = step_sess[step]
    perm = rng.permutation(n_sess)
    cum = np.cumsum(per_sess[perm])
    cut = int(np.searchsorted(cum, n_events))  # sessions perm[:cut] kept whole
    rank_in = np.empty(n_sess, np.int64)
    rank_in[perm] = np.arange(n_sess)
    ev_start = np.concatenate([[0], np.cumsum(per_sess)[:-1]])
    k_last = n_events - (int(cum[cut - 1]) if cut else 0)
    within = np.arange(len(sess)) - ev_start[sess]
    keep = (rank_in[sess] < cut) | ((rank_in[sess] == cut) & (within < k_last))
    step, col, sess, within = step[keep], col[keep], sess[keep], within[keep]

    # Timing: lognormal gaps by event type; a session's first event has gap 0.
    gap = np.clip(_GAP_MEDIAN[col] * rng.lognormal(0, 0.9, len(col)), 0.5, 1800.0)
    after_search = (col == 1) & (within == 1) & f[step, 0]
    gap[after_search] = rng.uniform(3, 15, int(after_search.sum()))  # results page -> view
    gap[within == 0] = 0.0
    csum = np.cumsum(gap)
    off = csum - (csum - gap)[np.flatnonzero(within == 0)][np.cumsum(within == 0) - 1]
    dur = np.zeros(n_sess)
    np.maximum.at(dur, sess, off)
    used = np.unique(sess)
    span: float | np.ndarray = days * 86400.0
    if churn > 0:  # a leaver's sessions all fall before they leave
        span = np.minimum(churn_times(n_users, seed, churn, start, days) - start, span)
    sess_start = _session_starts(rng, sess_user[used], dur[used], span)
    start_of = np.zeros(n_sess)
    start_of[used] = sess_start
    ts = start + start_of[sess] + off
    order = np.argsort(ts, kind="stable")
    step, col, sess, ts = step[order], col[order], sess[order], ts[order]

    # Columns: Arrow takes on small id dictionaries avoid millions of Python strings.
    type_names = pa.array(_COLS)
    item_idx = np.where(col == 0, -1, step_item[step])
    value = np.where(col == 4, price[step_item[step]], np.where(col == 5, rating[step], np.nan))
    sess_rank = np.zeros(n_sess, np.int64)
    sess_rank[used[np.argsort(sess_start, kind="stable")]] = np.arange(len(used))
    q_idx = pa.array(icat[step_item[step]], mask=col != 0)
    events = pa.Table.from_arrays([
        _ids("e", len(ts)),
        type_names.take(pa.array(col)),
        _ids("u", n_users).take(pa.array(sess_user[sess])),
        _ids("s", len(used)).take(pa.array(sess_rank[sess])),
        _ids("i", n_items).take(pa.array(item_idx, mask=item_idx < 0)),
        pa.array(value, mask=np.isnan(value)),
        pa.array(words).take(q_idx),
        pa.array(ts),
    ], schema=EVENT_SCHEMA)
    return Dataset(items=items, users=users, events=events, name=f"synthetic-{seed}")


def _session_starts(rng, user: np.ndarray, dur: np.ndarray, span: float | np.ndarray) -> np.ndarray:
    """Place each user's sessions in ``[0, span)`` without overlap, >= ~1 h apart.

    Uniform order statistics over the user's free time, then every earlier
    session's duration plus a minimum gap is added back: sessions end up hours
    to days apart depending on how active the user is.
    """
    order = np.lexsort((rng.random(len(user)), user))
    u, d = user[order], dur[order]
    counts = np.bincount(u)
    busy = np.bincount(u, weights=d)
    if np.ndim(span):  # one span per user (churn): indexed like counts
        span = np.asarray(span)[: len(counts)]
    min_gap = np.clip((0.9 * span - busy) / np.maximum(counts, 1), 0.0, 3600.0)  # heavy users
    slack = np.maximum(span - busy - counts * min_gap, 0.0)
    new = np.ones(len(u), bool)
    new[1:] = u[1:] != u[:-1]  # first session of each user
    step = d + min_gap[u]
    csum = np.cumsum(step)
    excl = csum - step
    excl -= excl[np.flatnonzero(new)][np.cumsum(new) - 1]  # exclusive cumsum per user
    uni = rng.random(len(u))
    uni = uni[np.lexsort((uni, u))]  # u is sorted, so this sorts draws within each user
    out = np.empty(len(u))
    out[order] = uni * slack[u] + excl
    return out
