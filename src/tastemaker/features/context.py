"""Context enrichment: what a request's or an event's context says beyond its raw fields.

From the user agent (parsed by ``ua-parser``, the maintained port of the uap-core regexes),
the timezone or country (``geo``, ``locale``) and the timestamp it derives: ``device``
(mobile, tablet, desktop, bot, other), ``os``, ``browser``, ``is_bot`` (a crawler or an
HTTP library, as uap-core classifies them), ``local_time``, ``hour``, ``time_of_day``,
``day_of_week``, ``is_weekend``, ``season`` (meteorological, by hemisphere), ``is_holiday``
and ``holiday`` (the ``holidays`` package, by country and optional subdivision). Fields the
client sent win over derived ones (a ``device`` sent by the app is kept).

Rules read them as ``context.NAME`` (:class:`EnrichedContext` derives them on first read, so a
request whose rules read none pays nothing), the ranker reads ``is_holiday``/``is_weekend``,
and segment definitions call :func:`enrich`.

>>> ctx = enrich({"user_agent": "curl/8.4.0", "geo": "DE"}, 1798196400.0)  # 2026-12-25 11:00 UTC
>>> ctx["is_bot"], ctx["is_holiday"], ctx["holiday"], ctx["day_of_week"], ctx["season"]
(True, True, 'Christmas Day', 'friday', 'winter')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import ua_parser

UA_CACHE = 8192  # distinct user agents kept parsed (a parse costs ~0.5 ms; a hit ~0.1 us)
MAX_UA = 512  # longer strings are cut before parsing (and before they become cache keys)
# uap-core names HTTP libraries and tools as user-agent families with no device: scripts, not people
AUTOMATION = frozenset({"curl", "Wget", "Python Requests", "Python-urllib", "Go-http-client", "Apache-HttpClient",
                        "Java", "okhttp", "HeadlessChrome", "PhantomJS", "Scrapy", "aiohttp", "libwww-perl",
                        "HTTPie", "PostmanRuntime", "node-fetch", "axios"})
DESKTOP_OS = frozenset({"Windows", "Mac OS X", "Linux", "Ubuntu", "Fedora", "Chrome OS", "FreeBSD"})
SOUTHERN = frozenset({"AU", "NZ", "AR", "CL", "UY", "PY", "ZA", "BR", "PE", "BO", "NA", "BW", "LS", "MZ", "ZW"})
_SEASONS_NORTH = ("winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer", "autumn",
                  "autumn", "autumn", "winter")
_FLIP = {"winter": "summer", "summer": "winter", "spring": "autumn", "autumn": "spring"}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DERIVED = ("device", "os", "browser", "is_bot", "country", "timezone", "local_time", "hour", "time_of_day",
           "day_of_week", "is_weekend", "season", "is_holiday", "holiday")
UTC = dt.UTC


@dataclass(frozen=True)
class Agent:
    """A parsed user agent."""

    device: str  # mobile, tablet, desktop, bot or other
    os: str | None
    browser: str | None
    is_bot: bool


@lru_cache(maxsize=UA_CACHE)
def _parse(ua: str) -> Agent:
    parsed = ua_parser.parse(ua)
    browser = parsed.user_agent.family if parsed.user_agent else None
    os_name = parsed.os.family if parsed.os else None
    device = parsed.device.family if parsed.device else None
    if device == "Spider" or browser in AUTOMATION:  # uap-core's crawler class, or an HTTP library
        return Agent("bot", os_name, browser, True)
    low = ua.lower()
    if device == "iPad" or "tablet" in low or (os_name == "Android" and "mobile" not in low):
        kind = "tablet"
    elif os_name in ("iOS", "Android") or "mobile" in low:
        kind = "mobile"
    elif os_name in DESKTOP_OS:
        kind = "desktop"
    else:
        kind = "other"
    return Agent(kind, os_name, browser, False)


def parse_agent(user_agent: str) -> Agent:
    """Device type, OS and browser of a user-agent string (LRU-cached).

    >>> parse_agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)").is_bot
    True
    """
    return _parse(user_agent[:MAX_UA])


def country_of(context: Mapping[str, Any]) -> str | None:
    """The ISO 3166 country of ``geo`` (``"DE"`` or ``{"country": "DE"}``), else of ``locale`` (``de-DE``).

    >>> country_of({"locale": "en_US"}), country_of({"geo": {"country": "fr"}}), country_of({})
    ('US', 'FR', None)
    """
    geo = context.get("geo")
    if isinstance(geo, Mapping):
        geo = geo.get("country")
    if isinstance(geo, str) and len(geo) == 2 and geo.isalpha():
        return geo.upper()
    locale = context.get("locale")
    if isinstance(locale, str) and len(locale) >= 5 and locale[2] in "-_" and locale[3:5].isalpha():
        return locale[3:5].upper()
    return None


@lru_cache(maxsize=1)
def _country_zones() -> dict[str, str]:
    """Country -> its first zone in tzdata's ``zone.tab`` (the most populous region first)."""
    out: dict[str, str] = {}
    text = (resources.files("tzdata") / "zoneinfo" / "zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, zone = line.split("\t")[:3]
            out.setdefault(code, zone)
    return out


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def timezone_of(context: Mapping[str, Any], country: str | None) -> str | None:
    """The IANA zone named by ``timezone`` (or ``geo.timezone``), else the country's main zone."""
    for value in (context.get("timezone"), (context.get("geo") or {}).get("timezone")
                  if isinstance(context.get("geo"), Mapping) else None):
        if isinstance(value, str) and len(value) <= 64 and _zone(value) is not None:
            return value
    return _country_zones().get(country) if country else None


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:  # a country (or subdivision) the package does not cover
        return None


def holiday(day: dt.date, country: str | None, subdivision: str | None = None) -> str | None:
    """The public holiday on ``day`` in ``country`` (its name), None on a working day.

    >>> holiday(dt.date(2026, 12, 25), "US"), holiday(dt.date(2026, 12, 23), "DE")
    ('Christmas Day', None)
    """
    if country is None:
        return None
    table = _holidays(country, subdivision)  # an unexpanded table is an empty (falsy) dict: test for None
    if table is None and subdivision:
        table = _holidays(country, None)
    return table.get(day) if table is not None else None


def season(month: int, country: str | None) -> str:
    """Meteorological season of ``month`` (1-12); southern-hemisphere countries flipped."""
    name = _SEASONS_NORTH[month - 1]
    return _FLIP[name] if country in SOUTHERN else name


def time_of_day(hour: int) -> str:
    return "night" if hour < 6 else "morning" if hour < 12 else "afternoon" if hour < 18 else "evening"


def enrich(context: Mapping[str, Any] | None, ts: float) -> dict[str, Any]:
    """Every derived field of ``context`` at epoch second ``ts`` (see the module), with the
    client's own fields on top. Other modules (segments, the ranker) call this."""
    ctx = context or {}
    out: dict[str, Any] = {}
    ua = ctx.get("user_agent")
    if isinstance(ua, str) and ua:
        agent = parse_agent(ua)
        out.update(device=agent.device, os=agent.os, browser=agent.browser, is_bot=agent.is_bot)
    else:
        out["is_bot"] = False
    country = country_of(ctx)
    zone = timezone_of(ctx, country)
    subdivision = ctx.get("region") if isinstance(ctx.get("region"), str) else None
    out.update(_local_fields(country, zone, subdivision, int(ts // 60)))
    out["local_time"] = dt.datetime.fromtimestamp(ts, (_zone(zone) if zone else None) or UTC).isoformat(timespec="seconds")
    out.update({k: v for k, v in ctx.items() if v is not None})
    return out


@lru_cache(maxsize=4096)
def _local_fields(country: str | None, zone: str | None, subdivision: str | None, minute: int) -> dict[str, Any]:
    """The calendar fields of one minute in one place (requests of the same minute and place share them)."""
    local = dt.datetime.fromtimestamp(minute * 60, (_zone(zone) if zone else None) or UTC)
    name = holiday(local.date(), country, subdivision)
    return {"country": country, "timezone": zone or "UTC", "hour": local.hour, "time_of_day": time_of_day(local.hour),
            "day_of_week": _DAYS[local.weekday()], "is_weekend": local.weekday() >= 5,
            "season": season(local.month, country), "is_holiday": name is not None, "holiday": name}


class EnrichedContext(Mapping[str, Any]):
    """A request context that derives :data:`DERIVED` fields the first time one is read.

    >>> ctx = EnrichedContext({"device": "mobile"}, 0.0)
    >>> ctx.get("device"), ctx.get("day_of_week"), ctx.get("nothing")
    ('mobile', 'thursday', None)
    """

    __slots__ = ("_full", "raw", "ts")

    def __init__(self, raw: Mapping[str, Any] | None, ts: float):
        self.raw = raw or {}
        self.ts = ts
        self._full: dict[str, Any] | None = None

    def _all(self) -> dict[str, Any]:
        if self._full is None:
            self._full = enrich(self.raw, self.ts)
        return self._full

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        value = self.raw.get(key)
        if value is not None:
            return value
        if key in DERIVED:
            value = self._all().get(key)
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        if key in self.raw:
            return self.raw[key]
        if key in DERIVED:
            return self._all()[key]  # may be None (no holiday, no OS)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
