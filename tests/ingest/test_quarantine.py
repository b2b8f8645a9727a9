"""Quarantine through the stream processor: held events are flagged in the store, left out of
the fold, kept out by a replay after a restart, and folded again when released."""

from __future__ import annotations

import numpy as np

from tastemaker.datasets.snapshot import snapshot_events
from tastemaker.features.guard import Guard
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.ingest.quarantine import QuarantineAdmin, restore_guard
from tastemaker.schema.records import Event

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")


def ev(n: int, user: str, item: str, ts: float, ua: str = CHROME, kind: str = "view") -> Event:
    return Event(id=f"{user}-{n}", type=kind, user_id=user, item_id=item, timestamp=ts, context={"user_agent": ua})


def human_and_bots() -> list[Event]:
    rng = np.random.default_rng(5)  # people: irregular gaps of tens of seconds
    events = [ev(k, f"h{k % 5}", f"i{k % 4}", float(t)) for k, t in enumerate(1000.0 + np.cumsum(rng.uniform(5, 80, 40)))]
    events += [ev(k, "crawler", "i9", 1000.0 + 30.0 * k, ua="curl/8.4.0") for k in range(10)]
    # a browser-looking scraper: a view every 0.5-0.9 s (caught by rate after 12, then taken back)
    events += [ev(k, "fast", "i8" if k % 2 else "i9", 3000.0 + 0.7 * k + 0.2 * (k % 3)) for k in range(30)]
    return sorted(events, key=lambda e: e.timestamp)


def popularity(processor: StreamProcessor) -> dict[str, float]:
    state = processor.state
    scores = state.popularity_scores()
    return {i: round(float(scores[state.index.get(i)]), 9) if state.index.get(i) is not None else 0.0
            for i in ("i0", "i1", "i8", "i9")}


def ingest(processor: StreamProcessor, events: list[Event]) -> None:
    processor.apply_appended(processor.stores.events.append(events).accepted)


def test_bots_are_held_flagged_and_stay_out_after_a_restart(open_store):
    stores = open_store()
    processor = StreamProcessor(stores, StreamProcessor.open(stores, None).state)
    processor.guard = Guard()
    ingest(processor, human_and_bots())
    pop = popularity(processor)
    assert pop["i8"] == 0.0 and pop["i9"] == 0.0 and pop["i0"] > 0  # only bots touched i8 and i9
    users = {u.user_id: u for u in stores.quarantine.users()}
    assert set(users) == {"crawler", "fast"} and users["crawler"].events == 10 and users["fast"].events == 30
    assert users["crawler"].reasons == ["user_agent"] and users["fast"].reasons == ["rate"]

    replayed = StreamProcessor.open(open_store(), None)  # another process: the whole log, with the flags
    assert popularity(replayed) == pop
    held = stores.quarantine.excluded()
    assert len(held) == 40
    rows = snapshot_events(stores.events, exclude=held)  # what training reads
    assert set(rows.user_id) == {f"h{k}" for k in range(5)}


def test_release_folds_events_back_and_trusts_the_user_confirm_keeps_them_out(open_store):
    stores = open_store()
    processor = StreamProcessor.open(stores, None)
    processor.guard = Guard()
    ingest(processor, human_and_bots())
    admin = QuarantineAdmin(processor)
    released = admin.release(user_id="crawler")
    assert len(released) == 10 and {r.status for r in released} == {"released"}
    assert popularity(processor)["i9"] > 0
    ingest(processor, [ev(99, "crawler", "i9", 9000.0, ua="curl/8.4.0")])  # trusted now
    assert stores.quarantine.list(user_id="crawler", status="held") == []
    fast_seqs = [r.seq for r in stores.quarantine.list(user_id="fast")][:5]
    assert [r.status for r in admin.confirm(seqs=fast_seqs)] == ["confirmed"] * 5
    assert admin.release(user_id="crawler") == []  # nothing left to release: folded once only
    pop = popularity(processor)
    fresh = StreamProcessor.open(open_store(), None)  # a restart: the decisions are in the store
    assert popularity(fresh) == pop
    guard = Guard()
    assert restore_guard(guard, fresh) == 2
    assert guard.scorer.is_trusted("crawler") and guard.scorer.verdict("fast") == "rate"


def test_without_a_guard_every_event_is_folded(open_store):
    stores = open_store()
    processor = StreamProcessor.open(stores, None)
    ingest(processor, human_and_bots())
    assert popularity(processor)["i9"] > 0 and stores.quarantine.list() == []
