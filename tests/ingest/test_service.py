"""ingest.service: validate, dedupe, append durably, apply, acknowledge."""

from __future__ import annotations

import asyncio
import json

import pytest

from tastemaker.ingest.processor import StreamProcessor
from tastemaker.ingest.service import IngestResult, IngestService
from tastemaker.schema.errors import ValidationFailed
from tastemaker.schema.records import Event
from tastemaker.schema.registry import EventSchema, EventSchemaRegistry

T0 = 1_700_000_000.0


def body(*events: dict) -> bytes:
    return json.dumps(list(events)).encode()


def view(i: int, user: str = "u1", item: str = "a") -> dict:
    return {"id": f"e{i}", "type": "view", "user_id": user, "item_id": item, "timestamp": T0 + i}


@pytest.fixture
def service(stores):
    svc = IngestService(StreamProcessor.open(stores, None), EventSchemaRegistry())
    yield svc
    svc.close()


def test_end_to_end_with_duplicates(service, stores):
    async def scenario():
        first = await service.ingest(body(view(1), view(2, item="b"), view(1)))
        again = await service.ingest(body(view(2, item="b"), view(3, item="c")))
        single = await service.ingest(json.dumps(view(3, item="c")).encode())
        return first, again, single

    first, again, single = asyncio.run(scenario())
    assert first == IngestResult(accepted=2, duplicates=1, last_seq=2)
    assert again == IngestResult(accepted=1, duplicates=1, last_seq=3)
    assert single.to_dict() == {"accepted": 0, "duplicates": 1}
    assert stores.events.count() == 3
    state = service.processor.state
    assert state.applied_seq == 3
    assert [state.index.ids[r.item] for r in state.users["u1"].recent] == ["a", "b", "c"]  # seen before the ack


def test_rejected_batch_writes_nothing(service, stores):
    bad = {"id": "e9", "type": "rating", "user_id": "u1", "item_id": "a"}  # no value
    with pytest.raises(ValidationFailed) as info:
        asyncio.run(service.ingest(body(view(1), view(2), bad)))
    assert [e.field for e in info.value.errors] == ["/2/value"]
    assert stores.events.count() == 0
    assert service.processor.state.applied_seq == 0 and service.processor.state.users == {}
    with pytest.raises(ValidationFailed) as info:
        asyncio.run(service.ingest(b""))
    assert info.value.status == 400
    assert stores.events.count() == 0


def test_registered_custom_types_are_accepted(stores):
    registry = EventSchemaRegistry()
    registry.register(EventSchema(type="wishlist", requires=["item"]))
    svc = IngestService(StreamProcessor.open(stores, None), registry)
    try:
        result = asyncio.run(svc.ingest(body({"id": "w1", "type": "wishlist", "user_id": "u", "item_id": "a"})))
        assert result.accepted == 1
        assert svc.processor.state.users["u"].type_counts == {"wishlist": 1}
    finally:
        svc.close()


def test_concurrent_batches_keep_log_order(service, stores):
    async def scenario():
        batches = [body(*(view(10 * b + i, user=f"u{b}") for i in range(5))) for b in range(8)]
        return await asyncio.gather(*(service.ingest(x) for x in batches))

    results = asyncio.run(scenario())
    assert sum(r.accepted for r in results) == 40
    assert stores.events.last_seq() == service.processor.state.applied_seq == 40
    assert {u: s.event_count for u, s in service.processor.state.users.items()} == {f"u{b}": 5 for b in range(8)}


def test_events_from_another_worker_are_applied_in_order(service, open_store):
    other = open_store()
    other.events.append([Event(id="x1", type="view", user_id="u1", item_id="x", timestamp=T0)])
    result = asyncio.run(service.ingest(body(view(5, item="mine"))))
    assert result.last_seq == 2
    state = service.processor.state
    assert [state.index.ids[r.item] for r in state.users["u1"].recent] == ["x", "mine"]


@pytest.mark.parametrize("bad, field, status", [
    ({"id": "x", "type": "rating", "user_id": "u1", "item_id": "a", "value": 1e308}, "/2/value", 422),
    ({"id": "x", "type": "purchase", "user_id": "u1", "item_id": "a", "value": -1e300}, "/2/value", 422),
    ({"id": "x", "type": "veiw", "user_id": "u1", "item_id": "a"}, "/2/type", 422),
    ({"id": "x", "type": "view", "user_id": "u1", "item_id": "a", "context": {"note": "n" * 101}}, "/2/context/note", 422),
])
def test_bad_values_refuse_the_whole_batch(stores, bad, field, status):
    from tastemaker.schema.validation import InputLimits

    svc = IngestService(StreamProcessor.open(stores, None), EventSchemaRegistry(), InputLimits(max_string_bytes=100))
    try:
        with pytest.raises(ValidationFailed) as info:
            asyncio.run(svc.ingest(body(view(1), view(2), bad)))
        assert [e.field for e in info.value.errors] == [field] and info.value.status == status
        assert stores.events.count() == 0
        assert svc.processor.state.applied_seq == 0 and svc.processor.state.users == {}
    finally:
        svc.close()


def test_deep_nesting_refuses_the_batch_with_a_400(service, stores):
    deep = b'[{"id":"x","type":"view","user_id":"u","item_id":"a","properties":' + b"[" * 3000 + b"]" * 3000 + b"}]"
    with pytest.raises(ValidationFailed) as info:
        asyncio.run(service.ingest(deep))
    assert info.value.status == 400 and info.value.title == "JSON nested too deeply"
    assert stores.events.count() == 0


def test_ingest_rests_between_slices_only_while_reads_run(service, monkeypatch):
    from tastemaker.ingest import service as ingest_service

    monkeypatch.setattr(ingest_service, "APPLY_SLICE_S", 0.0)  # a slice per event or so
    monkeypatch.setattr(ingest_service, "CHECK_SLICE", 4)
    real_sleep, rests = asyncio.sleep, []

    async def recording_sleep(delay: float, *args):
        if delay > 0:
            rests.append(delay)
        await real_sleep(0)  # the test does not wait for real

    monkeypatch.setattr(asyncio, "sleep", recording_sleep)
    batch = lambda first: body(*(view(first + i, item=f"i{i}") for i in range(40)))  # noqa: E731

    async def alone():
        await service.ingest(batch(0))

    async def beside_reads():
        done = asyncio.Event()

        async def reader():
            while not done.is_set():
                service.reads_served += 1  # what Engine.recommend does per request
                await real_sleep(0)

        task = asyncio.create_task(reader())
        await service.ingest(batch(100))
        done.set()
        await task

    asyncio.run(alone())
    assert rests == []  # ingest alone never rests
    asyncio.run(beside_reads())
    assert len(rests) >= 10  # a rest after (nearly) every slice while reads ran
    assert service.processor.state.applied_seq == 80  # and every event still applied
