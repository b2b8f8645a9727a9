"""Training on one node at a time: two trainers (separate processes: nothing shared but Redis
and the deployment's stores) race for the Redis training lease: exactly one trains, the other
is refused naming the winner; a holder that dies stops renewing and the next takes over once
the ttl ran out. Holds nest and renew past the ttl while held."""

from __future__ import annotations

import multiprocessing as mp
import time
import uuid
from pathlib import Path

import pytest

from tastemaker.config import Settings
from tastemaker.datasets import generate
from tastemaker.ingest.dataset_loader import load_dataset
from tastemaker.storage.factory import open_lease, open_stores
from tastemaker.training.leases import TRAIN, LeaseHeld, NodeLease, NodeLeases

from ..storage import services

_ctx = mp.get_context("spawn")  # fresh interpreters: they share only Redis and the stores


@pytest.fixture
def deployment(tmp_path: Path) -> dict:
    """A distributed deployment's lease settings (a Redis prefix of its own) and an embedded
    data dir with a small log, the stores the trainers train on."""
    services.require(services.REDIS_URL, "Redis")
    settings = Settings(data_dir=tmp_path / "data", durable=False)
    with open_stores(settings) as stores:
        load_dataset(stores, generate(200, 100, 3_000, seed=7))
    return {"data_dir": str(tmp_path / "data"), "redis_url": services.REDIS_URL,
            "redis_prefix": f"test-{uuid.uuid4().hex}:"}


def _lease_settings(d: dict) -> Settings:
    return Settings(data_dir=Path(d["data_dir"]), backend="distributed", redis_url=d["redis_url"],
                    redis_prefix=d["redis_prefix"], postgres_url="postgresql://unused/test?schema=race")


def _trainer(d: dict, name: str, ttl_s: float, go, reports, finish) -> None:
    """One node: take the training lease when told to; train if it got it, else report who has it."""
    from tastemaker.training.job import train

    lease = NodeLease(open_lease(_lease_settings(d), TRAIN, name, ttl_s=ttl_s), TRAIN, ttl_s=ttl_s)
    go.wait()
    try:
        lease.hold()
    except LeaseHeld as exc:
        reports.put((name, "refused", exc.holder))
        return
    with open_stores(Settings(data_dir=Path(d["data_dir"]), durable=False)) as stores:
        result = train(stores, "popularity", promote="always", evaluate=False)
    reports.put((name, "trained", result.version.version))
    finish.wait()  # hold on until the test says so (or until killed)
    lease.let_go()


def _start(d: dict, names: list[str], ttl_s: float):
    go, reports, finish = _ctx.Event(), _ctx.Queue(), _ctx.Event()
    procs = [_ctx.Process(target=_trainer, args=(d, n, ttl_s, go, reports, finish)) for n in names]
    for p in procs:
        p.start()
    return procs, go, reports, finish


def test_two_trainers_race_exactly_one_trains_and_the_other_is_refused_naming_it(deployment):
    procs, go, reports, finish = _start(deployment, ["node-a", "node-b"], 30.0)
    try:
        go.set()
        outcome = {name: (what, detail) for name, what, detail in (reports.get(timeout=300) for _ in procs)}
    finally:
        finish.set()
        for p in procs:
            p.join(120)
    trained = [n for n, (what, _) in outcome.items() if what == "trained"]
    refused = [n for n, (what, _) in outcome.items() if what == "refused"]
    assert len(trained) == 1 and len(refused) == 1, outcome
    assert outcome[refused[0]][1].startswith(trained[0] + " #")  # the holder named
    with open_stores(Settings(data_dir=Path(deployment["data_dir"]), durable=False)) as stores:
        assert [v.version for v in stores.models.list()] == [outcome[trained[0]][1]]  # one version, one run


def test_a_trainer_that_dies_holding_the_lease_lets_the_next_take_over_after_the_ttl(deployment):
    ttl_s = 3.0  # renewed every second: a busy machine would have to stall its holder 2 s to lose it
    procs, go, reports, _ = _start(deployment, ["node-a"], ttl_s)
    go.set()
    try:
        name, what, _ = reports.get(timeout=300)  # it trains, then holds (renewing) until killed
        assert (name, what) == ("node-a", "trained")
        nxt = NodeLease(open_lease(_lease_settings(deployment), TRAIN, "node-b", ttl_s=ttl_s), TRAIN, ttl_s=ttl_s)
        with pytest.raises(LeaseHeld, match="node-a"):
            nxt.hold()
    finally:
        procs[0].kill()  # no release: only the ttl frees it
        procs[0].join(60)
    for _ in range(200):  # poll in ttl/10 steps until the key expires (at most one ttl)
        try:
            nxt.hold()
            break
        except LeaseHeld:
            time.sleep(ttl_s / 10)
    assert nxt.held and nxt.lease.holder().startswith("node-b #")
    nxt.close()


def test_a_hold_renews_past_the_ttl_and_nested_holds_release_once(deployment):
    ttl_s = 1.5  # renewed every 0.5 s
    leases = NodeLeases(lambda name: open_lease(_lease_settings(deployment), name, "node-a", ttl_s=ttl_s), ttl_s)
    other = NodeLease(open_lease(_lease_settings(deployment), TRAIN, "node-b", ttl_s=ttl_s), TRAIN, ttl_s=ttl_s)
    lease = leases[TRAIN]
    assert leases[TRAIN] is lease
    lease.hold(), lease.hold()
    time.sleep(ttl_s * 3)  # three ttls: only the renewer thread keeps it
    with pytest.raises(LeaseHeld):
        other.hold()
    lease.let_go()
    with pytest.raises(LeaseHeld):  # one hold left
        other.hold()
    lease.let_go()
    other.hold()
    assert other.held and not lease.lost
    other.close(), leases.close()


def test_docstring_examples_run():
    import doctest

    import tastemaker.training.leases as module

    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_a_train_job_whose_lease_changed_hands_publishes_nothing(deployment):
    """The fence: a job checks, right before publishing, that the hold it started under still
    holds the lease (the server's train worker is another process than the lease's holder)."""
    from tastemaker.training.job import run_train_job, train
    from tastemaker.training.leases import LeaseLost, check_holder

    settings = _lease_settings(deployment)
    first = NodeLease(open_lease(settings, TRAIN, "node-a", ttl_s=30.0), TRAIN)
    first.hold()
    held_as = first.holder_id
    assert held_as.startswith("node-a #")
    check_holder(settings, TRAIN, held_as)  # still ours: no error
    first.lease.client.delete(first.lease.key)  # its ttl ran out during a long stall...
    second = NodeLease(open_lease(settings, TRAIN, "node-b", ttl_s=30.0), TRAIN)
    second.hold()  # ...and node b took over
    embedded = Settings(data_dir=Path(deployment["data_dir"]), durable=False)
    with open_stores(embedded) as stores, pytest.raises(LeaseLost, match="now held by node-b"):
        train(stores, "popularity", promote="always", evaluate=False,
              before_publish=lambda: check_holder(settings, TRAIN, held_as))
    # the server's entry point: the embedded train lease is free, not the job's holder's
    with pytest.raises(LeaseLost, match="is now free"):
        run_train_job(embedded, "popularity", promote="always", fence=(TRAIN, "server-1:42"))
    with open_stores(embedded) as stores:
        assert stores.models.list() == []  # nothing registered, nothing promoted
    second.close(), first.close()
