"""PII traits sealed at rest: reads give the plaintext back, no file of the data dir holds it,
ciphertexts are bound to their user and trait, and a key rotation re-encrypts every profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from tastemaker.config import Settings
from tastemaker.privacy.scan import count_in_file
from tastemaker.schema.records import User
from tastemaker.storage.factory import open_stores
from tastemaker.storage.pii import KEY_FILE, PREFIX, EncryptedUserStore, PiiCipher, add_key, key_id, load_keys, reencrypt

EMAIL = "ada.lovelace-7f3a@example.org"


def _open(data_dir: Path):
    return open_stores(Settings(data_dir=data_dir, durable=False, pii_traits=("email", "phone")))


def _bytes_found(root: Path, text: str) -> int:
    return sum(count_in_file(p, [text.encode(), text.encode("utf-16-le")]) for p in root.rglob("*") if p.is_file())


def test_sealed_at_rest_plain_on_read(tmp_path: Path):
    stores = _open(tmp_path)
    user = User(id="u1", traits={"email": EMAIL, "phone": ["+44 20 7946 0000"], "tier": "gold"}, consent={"analytics": True})
    stores.users.upsert([user, User(id="u2", traits={"tier": "silver"})])
    assert stores.users.get("u1") == user
    assert dict(stores.users.changes_since(0)[1])["u1"] == user
    assert sorted(u.id for u in stores.users.iter_all()) == ["u1", "u2"]
    stored = stores.users.stored("u1")
    assert stored.traits["email"].startswith(PREFIX) and stored.traits["tier"] == "gold"
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    stores.reclaim()
    stores.close()
    assert _bytes_found(tmp_path, EMAIL) == 0 and _bytes_found(tmp_path, "7946") == 0
    assert _bytes_found(tmp_path, "gold") > 0  # the scan sees what is not PII
    again = _open(tmp_path)  # the key file opens it in the next process
    assert again.users.get("u1") == user
    again.close()


def test_ciphertext_is_bound_to_its_user_and_trait(tmp_path: Path):
    cipher = PiiCipher(load_keys(tmp_path))
    sealed = cipher.seal(EMAIL, "u1", "email")
    assert cipher.open(sealed, "u1", "email") == EMAIL
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "u2", "email")
    with pytest.raises(InvalidTag):
        cipher.open(sealed, "u1", "phone")
    assert cipher.seal(EMAIL, "u1", "email") != sealed  # a fresh nonce each time


def test_rotation_reencrypts_everything_under_the_new_key(tmp_path: Path):
    stores = _open(tmp_path)
    stores.users.upsert([User(id=f"u{i}", traits={"email": f"p{i}@x.org"}) for i in range(5)])
    old = stores.users.cipher.current
    new = add_key(tmp_path / KEY_FILE)
    stores.close()
    stores = _open(tmp_path)
    assert stores.users.cipher.current == key_id(new) != old
    assert stores.users.get("u3").traits["email"] == "p3@x.org"  # old ciphertexts still open
    assert reencrypt(stores.users) == {"profiles": 5, "traits": 5}
    assert {stores.users.cipher.key_of(stores.users.stored(f"u{i}").traits["email"]) for i in range(5)} == {key_id(new)}
    assert reencrypt(stores.users) == {"profiles": 0, "traits": 0}
    stores.close()
    add_key(tmp_path / KEY_FILE, keep_old=False)  # old keys dropped: profiles under them no longer open
    stores = _open(tmp_path)
    with pytest.raises(KeyError, match="lacks"):
        stores.users.get("u1")
    stores.close()


def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    old, new = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("TASTEMAKER_PII_KEY", new.hex())
    monkeypatch.setenv("TASTEMAKER_PII_OLD_KEYS", old.hex())
    keys = load_keys(tmp_path)
    assert keys == [old, new] and not (tmp_path / KEY_FILE).exists()
    sealed = PiiCipher([old]).seal("x", "u", "email")
    assert PiiCipher(keys).open(sealed, "u", "email") == "x"
    monkeypatch.setenv("TASTEMAKER_PII_KEY", "abc")
    with pytest.raises(ValueError, match="64 hex digits"):
        load_keys(tmp_path)


def test_without_pii_traits_the_store_is_not_wrapped(tmp_path: Path):
    stores = open_stores(Settings(data_dir=tmp_path, durable=False))
    assert not isinstance(stores.users, EncryptedUserStore) and not (tmp_path / KEY_FILE).exists()
    stores.close()
