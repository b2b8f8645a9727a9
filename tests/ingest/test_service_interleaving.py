"""The ingest guarantees while batches apply in slices, reads run between the slices and the
co-visitation index re-cuts rows in the background (issue 14).

Every answer is checked: an acknowledged batch is durable (a second connection reads it)
and visible to the very next read; a read between slices sees a prefix of the log, never a
gap; a rejected batch writes nothing, even with others in flight; and the live state ends
equal to a replay of the log.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from tastemaker.features import covisitation_upkeep as upkeep
from tastemaker.config import Settings
from tastemaker.engine import Engine
from tastemaker.features import covisitation
from tastemaker.ingest import service as ingest_service
from tastemaker.ingest.processor import StreamProcessor
from tastemaker.schema.errors import ValidationFailed
from tastemaker.serving.request import RecommendationRequest
from tastemaker.storage.factory import open_stores
from tests.ingest.test_processor import assert_same_state

T0 = 1_700_000_000.0
USERS, ITEMS, BATCHES, PER_BATCH = 12, 40, 24, 60


def batch(b: int, rng: random.Random) -> list[dict]:
    return [{"id": f"b{b}-{i}", "type": rng.choice(["view", "view", "add_to_cart", "purchase"]),
             "user_id": f"u{rng.randrange(USERS)}", "item_id": f"i{rng.randrange(ITEMS)}",
             "timestamp": T0 + b * PER_BATCH + i, **({"value": 5.0} if i % 17 == 0 else {})}
            for i in range(PER_BATCH)]


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Slices of about one event and re-cuts as often as rows change: the most interleaving.
    monkeypatch.setattr(ingest_service, "APPLY_SLICE_S", 0.0)
    monkeypatch.setattr(ingest_service, "CHECK_SLICE", 7)
    monkeypatch.setattr(upkeep, "RECUT_MIN_ROWS", 1)
    monkeypatch.setattr(upkeep, "RECUT_IDLE_FACTOR", 0.0)
    eng = Engine(Settings(data_dir=tmp_path / "data"))
    yield eng
    eng.close()


def test_reads_ingest_and_recuts_interleaved(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed_recuts = []
    install = covisitation.CoVisitationIndex._install_recut

    def counting_install(index: covisitation.CoVisitationIndex) -> None:
        installed_recuts.append(len(index._recutting))
        install(index)

    monkeypatch.setattr(covisitation.CoVisitationIndex, "_install_recut", counting_install)

    rng = random.Random(7)
    bodies = [json.dumps(batch(b, rng)).encode() for b in range(BATCHES)]
    bad = json.loads(bodies[5])
    bad[-1] = {"id": "bad-1", "type": "rating", "user_id": "u1", "item_id": "i1"}  # a rating needs a value
    engine.processor.state.covisitation.prune()  # from now on, changed rows are re-cut in the background
    acked: list[tuple[int, list[dict]]] = []
    reads: list[int] = []
    observer = open_stores(Settings(data_dir=tmp_path / "data"))  # a second connection: what is durable

    async def ingest(body: bytes, events: list[dict]) -> None:
        result = await engine.ingest.ingest(body)
        # Acknowledged: durable, and the next read of these users sees every event.
        assert observer.events.last_seq() >= result.last_seq
        state = engine.processor.state
        assert state.applied_seq >= result.last_seq
        for e in events:
            assert e["user_id"] in state.users
        acked.append((result.last_seq, events))

    async def rejected() -> None:
        with pytest.raises(ValidationFailed):
            await engine.ingest.ingest(json.dumps(bad).encode())

    async def reader() -> None:
        last = 0
        while len(acked) < BATCHES:
            seq = engine.processor.state.applied_seq
            assert seq >= last  # never goes back
            last = seq
            user = f"u{len(reads) % USERS}"
            body = engine.recommend(RecommendationRequest(user_id=user, n=5))
            ids = [entry["id"] for entry in body["items"]]
            assert len(ids) == len(set(ids)) and all(i.startswith("i") for i in ids)
            reads.append(seq)
            await asyncio.sleep(0)

    async def scenario() -> None:
        tasks = [ingest(b, json.loads(b)) for b in bodies]
        await asyncio.gather(reader(), rejected(), *tasks)

    asyncio.run(scenario())
    state = engine.processor.state
    assert state.applied_seq == engine.stores.events.last_seq() == BATCHES * PER_BATCH
    assert not any(e.id == "bad-1" for _, e in engine.stores.events.read_since(0, 10_000))
    assert len(set(reads)) > BATCHES  # reads saw the state between slices, not only between batches
    assert installed_recuts, "no background re-cut was installed during the run"
    replayed = StreamProcessor.open(open_stores(Settings(data_dir=tmp_path / "data")), None).state
    assert_same_state(state, replayed)
    observer.close()
