"""Context enrichment on real user-agent strings and real public holidays."""

from __future__ import annotations

import datetime as dt

import pytest

from tastemaker.features.context import (
    EnrichedContext,
    country_of,
    enrich,
    holiday,
    parse_agent,
    season,
    timezone_of,
)

CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36")
IPHONE_SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.1 Mobile/15E148 Safari/604.1")
ANDROID_CHROME = ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.6099.144 Mobile Safari/537.36")
IPAD = ("Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CURL = "curl/8.4.0"
XMAS_NOON_UTC = dt.datetime(2026, 12, 25, 12, tzinfo=dt.UTC).timestamp()
PLAIN_WEDNESDAY = dt.datetime(2026, 12, 16, 12, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize("ua, device, os_name, browser, bot", [
    (CHROME_WINDOWS, "desktop", "Windows", "Chrome", False),
    (IPHONE_SAFARI, "mobile", "iOS", "Mobile Safari", False),
    (ANDROID_CHROME, "mobile", "Android", "Chrome Mobile", False),
    (IPAD, "tablet", "iOS", "Mobile Safari", False),
    (GOOGLEBOT, "bot", None, "Googlebot", True),
    (CURL, "bot", None, "curl", True),
    ("python-requests/2.31.0", "bot", None, "Python Requests", True),
])
def test_user_agents_parse_into_device_os_browser(ua, device, os_name, browser, bot):
    agent = parse_agent(ua)
    assert (agent.device, agent.os, agent.browser, agent.is_bot) == (device, os_name, browser, bot)


def test_a_parse_is_cached_and_overlong_agents_are_cut():
    assert parse_agent(CHROME_WINDOWS) is parse_agent(CHROME_WINDOWS)  # the LRU hands back the same object
    assert parse_agent(CURL + " " + "x" * 10_000).browser == "curl"


def test_christmas_is_a_holiday_in_the_us_and_germany_and_a_plain_day_is_not():
    assert holiday(dt.date(2026, 12, 25), "US") == "Christmas Day"
    assert holiday(dt.date(2026, 12, 25), "DE") is not None
    assert holiday(dt.date(2026, 12, 16), "US") is None
    assert holiday(dt.date(2026, 7, 4), "US") is not None and holiday(dt.date(2026, 7, 4), "DE") is None
    assert holiday(dt.date(2026, 12, 25), None) is None
    assert holiday(dt.date(2026, 12, 25), "ZZ") is None  # a country the package does not know: no holiday


def test_enrich_derives_local_time_season_and_holiday_from_the_country():
    ctx = enrich({"geo": {"country": "us"}, "user_agent": IPHONE_SAFARI}, XMAS_NOON_UTC)
    assert ctx["country"] == "US" and ctx["timezone"] == "America/New_York"
    assert ctx["local_time"] == "2026-12-25T07:00:00-05:00" and ctx["hour"] == 7
    assert (ctx["time_of_day"], ctx["day_of_week"], ctx["is_weekend"]) == ("morning", "friday", False)
    assert (ctx["season"], ctx["is_holiday"], ctx["holiday"]) == ("winter", True, "Christmas Day")
    assert (ctx["device"], ctx["os"], ctx["is_bot"]) == ("mobile", "iOS", False)
    plain = enrich({"locale": "de-DE"}, PLAIN_WEDNESDAY)
    assert (plain["country"], plain["is_holiday"], plain["hour"], plain["day_of_week"]) == ("DE", False, 13, "wednesday")


def test_an_explicit_timezone_wins_and_the_client_fields_are_kept():
    ctx = enrich({"timezone": "Australia/Sydney", "geo": "AU", "device": "kiosk"}, XMAS_NOON_UTC)
    assert ctx["hour"] == 23 and ctx["season"] == "summer"  # southern hemisphere
    assert ctx["device"] == "kiosk"  # what the client said beats the (absent) user agent
    assert timezone_of({"timezone": "Not/AZone"}, None) is None  # an unknown zone is ignored: UTC
    assert enrich({"timezone": "Not/AZone"}, XMAS_NOON_UTC)["local_time"] == "2026-12-25T12:00:00+00:00"


def test_country_and_season_edge_cases():
    assert country_of({"geo": "Germany"}) is None and country_of({"locale": "en"}) is None
    assert season(3, "DE") == "spring" and season(3, "NZ") == "autumn"


def test_enriched_context_is_lazy_and_behaves_as_a_mapping():
    ctx = EnrichedContext({"user_agent": GOOGLEBOT}, XMAS_NOON_UTC)
    assert ctx._full is None and ctx.get("user_agent") == GOOGLEBOT and ctx._full is None
    assert ctx.get("is_bot") is True and ctx["device"] == "bot"
    assert ctx.get("unknown", "x") == "x" and "day_of_week" in ctx
    assert ctx["holiday"] is None and ctx.get("holiday", "none") == "none"  # no country: no holiday
    with pytest.raises(KeyError):
        ctx["not_a_field"]
    assert dict(ctx)["day_of_week"] == "friday"
