"""Settings, read once from the environment and the command line.

Backends are chosen here and only here (``TASTEMAKER_BACKEND``); nothing below ``api``
knows which one runs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from tastemaker.schema.registry import DEFAULT_RATING_SCALE
from tastemaker.schema.validation import InputLimits


def rating_scale_from_env(text: str | None = None) -> tuple[float, float]:
    """``TASTEMAKER_RATING_SCALE`` (``"1,5"``) as ``(low, high)``; the default when unset.

    >>> rating_scale_from_env("1,10")
    (1.0, 10.0)
    """
    text = os.environ.get("TASTEMAKER_RATING_SCALE") if text is None else text
    if not text:
        return DEFAULT_RATING_SCALE
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"TASTEMAKER_RATING_SCALE must be 'low,high' (e.g. '1,5'), not {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"TASTEMAKER_RATING_SCALE needs finite low < high, got {text!r}")
    return low, high


def consent_required_from_env(text: str | None = None) -> bool:
    """``TASTEMAKER_CONSENT_REQUIRED``: ``1``/``true``/``yes`` makes consent purposes opt-in
    (an absent purpose is refused); unset or ``0`` keeps them opt-out (absent is allowed).

    >>> consent_required_from_env("1"), consent_required_from_env(""), consent_required_from_env("no")
    (True, False, False)
    """
    text = os.environ.get("TASTEMAKER_CONSENT_REQUIRED", "") if text is None else text
    value = text.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"TASTEMAKER_CONSENT_REQUIRED must be 1 or 0 (true/false), not {text!r}")


def flag_from_env(name: str, text: str | None = None) -> bool:
    """An on/off setting: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``/unset.

    >>> flag_from_env("X", "yes"), flag_from_env("X", ""), flag_from_env("X", "off")
    (True, False, False)
    """
    text = os.environ.get(name, "") if text is None else text
    value = text.strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be 1 or 0 (true/false), not {text!r}")


_DAY_UNITS = {"d": 1.0, "h": 1 / 24, "w": 7.0, "y": 365.0}


def retention_from_env(text: str | None = None) -> dict[str, float]:
    """``TASTEMAKER_RETENTION`` as ``{event type: days}``: ``type=N[d|h|w|y]`` comma-separated,
    ``*`` for every type not named; unset or empty keeps every event forever.

    >>> retention_from_env("view=90d,search=30d,*=2y")
    {'view': 90.0, 'search': 30.0, '*': 730.0}
    """
    text = os.environ.get("TASTEMAKER_RETENTION", "") if text is None else text
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, spec = part.partition("=")
        name, spec = name.strip(), spec.strip().lower()
        unit = spec[-1:] if spec[-1:] in _DAY_UNITS else "d"
        try:
            days = float(spec[:-1] if spec[-1:] in _DAY_UNITS else spec) * _DAY_UNITS[unit]
        except ValueError:
            days = math.nan
        if not name or not (math.isfinite(days) and days > 0):
            raise ValueError(f"TASTEMAKER_RETENTION: {part!r} must be TYPE=N[d|h|w|y] with N > 0 (e.g. view=90d, *=730d)")
        out[name] = days
    return out


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_positive(name: str, default: float, zero: bool = False) -> float:
    """A number of seconds from the environment: finite and > 0 (>= 0 with ``zero``).

    >>> _env_positive("TASTEMAKER_UNSET_FOR_DOCTEST", 900.0)
    900.0
    """
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name} must be {'>= 0' if zero else '> 0'} seconds, not {text!r}")
    return value


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` requests a second on average, ``burst`` at once."""

    rate: float
    burst: int

    def __str__(self) -> str:
        return f"{self.rate:g}/s, burst {self.burst}"


# Per key, by the scope a request needs (read, ingest, admin); per client address for requests
# without an already-verified key (``unauthenticated``: wrong or missing keys are refused before
# any key is hashed) and for the public endpoints (``public``). The per-key defaults are above
# what one server process answers (a shop often sends all its traffic with one key): they stop
# runaway clients only; lower them per deployment. An ingest request may carry 10,000 events,
# so its rate is lower than reads'; admin actions are rare.
DEFAULT_RATE_LIMITS: dict[str, RateLimit] = {
    "read": RateLimit(10_000, 20_000), "ingest": RateLimit(500, 1000), "admin": RateLimit(20, 200),
    "unauthenticated": RateLimit(10, 50), "public": RateLimit(50, 200),
}
_PER_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0}


def rate_limits_from_env(text: str | None = None) -> dict[str, RateLimit]:
    """``TASTEMAKER_RATE_LIMITS`` over the defaults: ``scope=RATE[/s|/m|/h][:BURST]`` or
    ``scope=off``, comma-separated; ``off`` alone turns every limit off. A scope not named
    keeps its default; a burst not given is twice the rate per second (at least 1).

    >>> limits = rate_limits_from_env("read=50/s:80,admin=600/m,public=off")
    >>> limits["read"], limits["admin"], "public" in limits, limits["ingest"] == DEFAULT_RATE_LIMITS["ingest"]
    (RateLimit(rate=50.0, burst=80), RateLimit(rate=10.0, burst=20), False, True)
    """
    text = os.environ.get("TASTEMAKER_RATE_LIMITS", "") if text is None else text
    if text.strip().lower() == "off":
        return {}
    limits = dict(DEFAULT_RATE_LIMITS)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, spec = part.partition("=")
        name, spec = name.strip(), spec.strip().lower()
        if name not in DEFAULT_RATE_LIMITS:
            raise ValueError(f"TASTEMAKER_RATE_LIMITS: unknown scope {name!r}; known: {', '.join(DEFAULT_RATE_LIMITS)}")
        if spec == "off":
            limits.pop(name, None)
            continue
        try:
            rate_text, _, burst_text = spec.partition(":")
            count, _, unit = rate_text.partition("/")
            rate = float(count) / _PER_UNIT[unit or "s"]
            burst = int(burst_text) if burst_text else max(1, math.ceil(2 * rate))
        except (ValueError, KeyError):
            raise ValueError(f"TASTEMAKER_RATE_LIMITS: {part!r} must be scope=RATE[/s|/m|/h][:BURST] or scope=off") from None
        if not (math.isfinite(rate) and rate > 0 and burst >= 1):
            raise ValueError(f"TASTEMAKER_RATE_LIMITS: {part!r} needs a rate > 0 and a burst >= 1")
        limits[name] = RateLimit(rate, burst)
    return limits


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("TASTEMAKER_DATA_DIR", "./data")))
    # The deployment (storage.factory, the only code that reads it): "embedded" (SQLite and files
    # in data_dir; "sqlite" is an alias) or "distributed" (PostgreSQL, NATS JetStream and Redis
    # at the URLs below; a PostgreSQL URL may name a schema with ?schema=NAME).
    backend: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_BACKEND", "embedded"))
    postgres_url: str = field(default_factory=lambda: os.environ.get(
        "TASTEMAKER_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/tastemaker"))
    nats_url: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_NATS_URL", "nats://127.0.0.1:4222"))
    redis_url: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_REDIS_URL", "redis://127.0.0.1:6379/0"))
    # The distributed event log's JetStream stream and its subjects (<prefix>.<partition>); the
    # Redis keys of shared counters start with redis_prefix. One deployment per stream/prefix.
    nats_stream: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_NATS_STREAM", "TASTEMAKER_EVENTS"))
    nats_subject_prefix: str = field(
        default_factory=lambda: os.environ.get("TASTEMAKER_NATS_SUBJECT_PREFIX", "tastemaker.events"))
    redis_prefix: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_REDIS_PREFIX", "tastemaker:"))
    # A read carrying X-Tastemaker-After: <position> waits at most this long (seconds) for this
    # worker to apply the log up to there, then answers 503 naming the position (distributed).
    read_wait_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_READ_WAIT_S", "2.0")))
    admin_key: str | None = field(default_factory=lambda: os.environ.get("TASTEMAKER_ADMIN_KEY"))
    # Durable means fsync on every commit; turn off only for throwaway test data.
    durable: bool = field(default_factory=lambda: os.environ.get("TASTEMAKER_DURABLE", "1") != "0")
    # Retrain the default family this often (seconds); 0 turns periodic retraining off.
    retrain_every_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_RETRAIN_EVERY_S", "0")))
    session_timeout_s: float = 1800.0
    # A co-visitation row that events keep changing is re-read at most this often (seconds);
    # the user's own events still show at once (features.covisitation.CoVisitationIndex.row_ttl_s).
    covisitation_row_ttl_s: float = field(
        default_factory=lambda: float(os.environ.get("TASTEMAKER_COVISITATION_ROW_TTL_S", "0.5")))
    # A snapshot pickles the whole state in a forked child (a core for seconds): not too often.
    snapshot_every_events: int = 1_000_000
    require_catalog: bool = True
    # A running canary's served metrics (CTR from attribution) are analysed this often (seconds,
    # off the event loop), once each arm has canary_min_users users (or its design's sample size).
    canary_check_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_CANARY_CHECK_S", "60")))
    canary_min_users: int = field(default_factory=lambda: int(os.environ.get("TASTEMAKER_CANARY_MIN_USERS", "200")))
    # Logged impressions (ranker training data) older than this are deleted; 0 keeps them all.
    impression_retention_days: float = field(
        default_factory=lambda: float(os.environ.get("TASTEMAKER_IMPRESSION_RETENTION_DAYS", "90")))
    # A placement file the operator names (YAML); None: ``placements.yaml`` in the artifact
    # store (storage.factory.placement_document).
    placements_file: Path | None = field(
        default_factory=lambda: Path(os.environ["TASTEMAKER_PLACEMENTS"]) if os.environ.get("TASTEMAKER_PLACEMENTS") else None)
    # Ratings outside this scale are refused at ingest (422 naming /value) and clipped in training.
    rating_scale: tuple[float, float] = field(default_factory=rating_scale_from_env)
    # Free-form JSON (event context/properties, item properties, user traits) is bounded so one
    # request cannot store megabytes or nest deep enough to exhaust the decoder's stack.
    max_string_bytes: int = field(default_factory=lambda: _env_int("TASTEMAKER_MAX_STRING_BYTES", 64 * 1024))
    max_document_bytes: int = field(default_factory=lambda: _env_int("TASTEMAKER_MAX_DOCUMENT_BYTES", 1024 * 1024))
    max_depth: int = field(default_factory=lambda: _env_int("TASTEMAKER_MAX_JSON_DEPTH", 32))
    # Request bodies: a 10,000-event batch of ordinary events is 2-5 MB, 10,000 catalogue items
    # with descriptions some tens of MB; the cap is checked before a byte is decoded.
    max_events_body_bytes: int = field(default_factory=lambda: _env_int("TASTEMAKER_MAX_EVENTS_BODY_BYTES", 16 * 1024 * 1024))
    max_body_bytes: int = field(default_factory=lambda: _env_int("TASTEMAKER_MAX_BODY_BYTES", 64 * 1024 * 1024))
    # Token buckets by scope (see DEFAULT_RATE_LIMITS); a scope absent here is not limited.
    rate_limits: dict[str, RateLimit] = field(default_factory=rate_limits_from_env)
    # Consent purposes (personalization, training, analytics) absent from a user's document:
    # allowed (False, opt-out) or refused until granted (True, opt-in); privacy.consent.
    consent_required: bool = field(default_factory=consent_required_from_env)
    # Events older than their type's retention (days; '*' for other types) are deleted from
    # every store and online state is rebuilt from what is left (privacy.retention); empty: keep all.
    retention: dict[str, float] = field(default_factory=retention_from_env)
    # How often a server applies the retention policy (seconds); 0: only `tastemaker privacy retention`.
    retention_every_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_RETENTION_EVERY_S", "86400")))
    # Share of users kept out of every experiment on non-personalised popularity (the global
    # holdout, experiments.assignment); 0: none.
    experiment_holdout: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_EXPERIMENT_HOLDOUT", "0")))
    # Profile traits encrypted at rest (AES-GCM, storage.pii), e.g. "email,phone,name"; empty: none.
    pii_traits: tuple[str, ...] = field(default_factory=lambda: tuple(
        t.strip() for t in os.environ.get("TASTEMAKER_PII_TRAITS", "").split(",") if t.strip()))
    # Slow clients (api.slow_clients): a request body must arrive at MIN_BODY_RATE bytes/s once
    # BODY_GRACE_S have passed (else 408); headers within TASTEMAKER_HEADER_TIMEOUT_S (10 s; read by
    # the uvicorn protocol class itself, which is built before any Settings).
    body_grace_s: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_BODY_GRACE_S", "10")))
    min_body_rate: float = field(default_factory=lambda: float(os.environ.get("TASTEMAKER_MIN_BODY_RATE", "1024")))
    # OAuth access tokens (api.tokens): lifetime, accepted clock skew, and the iss/aud claims
    # issued and required. Old signing keys are kept for ttl + leeway after a rotation.
    token_ttl_s: float = field(default_factory=lambda: _env_positive("TASTEMAKER_TOKEN_TTL_S", 900.0))
    token_leeway_s: float = field(default_factory=lambda: _env_positive("TASTEMAKER_TOKEN_LEEWAY_S", 30.0, zero=True))
    token_issuer: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_TOKEN_ISSUER", "tastemaker"))
    token_audience: str = field(default_factory=lambda: os.environ.get("TASTEMAKER_TOKEN_AUDIENCE", "tastemaker-api"))
    # User ids replaced by a keyed HMAC at the API's edge (privacy.pseudonyms); keys as for PII.
    pseudonymize: bool = field(default_factory=lambda: flag_from_env("TASTEMAKER_PSEUDONYMIZE"))
    # Score every posted event for bots and shilling and quarantine the suspicious (features.guard):
    # TASTEMAKER_BOT_DETECTION=1. Off by default: it costs ~20% of ingest throughput, and data with
    # machine-regular timestamps (imports, fixtures) would be held as a timer's.
    bot_detection: bool = field(default_factory=lambda: flag_from_env("TASTEMAKER_BOT_DETECTION"))

    @property
    def input_limits(self) -> InputLimits:
        return InputLimits(self.max_string_bytes, self.max_document_bytes, self.max_depth)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tastemaker.db"

    #: The online-state snapshot's key in the artifact store.
    snapshot_key: str = "state.snapshot"
