"""api/keys.py: token format, hashing, the environment admin key."""

from __future__ import annotations

import hashlib
import threading

from tastemaker.api.keys import KeyVerifier, create_key, ensure_env_admin_key, key_id_of
from tastemaker.config import Settings
from tastemaker.storage.factory import open_stores


def test_key_id_of():
    assert key_id_of("tm_abc123_secret_with_underscores") == "abc123"
    env_id = key_id_of("plain-admin-key")
    assert env_id.startswith("env-") and env_id == key_id_of("plain-admin-key") != key_id_of("other-key")
    assert key_id_of("tm__x").startswith("env-")


def test_only_a_sha256_of_the_token_is_stored(tmp_path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    try:
        record, token = create_key(stores.keys, "ci", {"read"})
        _, stored = stores.keys.find(record.key_id)
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        assert token not in stored
    finally:
        stores.close()


def test_env_admin_key_is_idempotent_and_verifies(tmp_path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    try:
        first = ensure_env_admin_key(stores.keys, "my-admin-key")
        second = ensure_env_admin_key(stores.keys, "my-admin-key")
        assert first.key_id == second.key_id and first.scopes == frozenset({"admin"})
        assert len(stores.keys.list()) == 1
        assert KeyVerifier(stores.keys).verify("my-admin-key").key_id == first.key_id
        assert KeyVerifier(stores.keys).verify("my-admin-key2") is None
    finally:
        stores.close()


def test_env_admin_key_registered_by_concurrent_workers(tmp_path):
    """Several server workers start at once on a fresh data dir: none of them may fail."""
    for trial in range(25):
        data = tmp_path / f"d{trial}"
        all_stores = [open_stores(Settings(data_dir=data, durable=False)) for _ in range(4)]
        barrier = threading.Barrier(len(all_stores))
        errors, records = [], []

        def start(stores):
            barrier.wait()
            try:
                records.append(ensure_env_admin_key(stores.keys, "shared-admin-key"))
            except Exception as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(s,)) for s in all_stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert errors == []
            assert len({r.key_id for r in records}) == 1
            assert len(all_stores[0].keys.list()) == 1
        finally:
            for s in all_stores:
                s.close()
