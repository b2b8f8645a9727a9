"""privacy.pseudonyms: the keyed mapping, its key chain, rotation by wrapping, tombstone checks."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from tastemaker.privacy.pseudonyms import KEY_ENV, KEY_FILE, OLD_KEYS_ENV, Pseudonyms, load_keys, rotate_key_file

K1, K2 = b"\x01" * 32, b"\x02" * 32


def test_pseudonym_is_a_truncated_hmac_named_by_its_key():
    p = Pseudonyms([K1])
    kid = hashlib.sha256(K1).hexdigest()[:8]
    assert p("u-1") == f"p1:{kid}:" + hmac.new(K1, b"u-1", "sha256").hexdigest()[:32]
    assert p("u-1") != p("u-2") and p("u-1") == Pseudonyms([K1])("u-1")  # deterministic across processes
    assert Pseudonyms([K2])("u-1") != p("u-1")


def test_rotation_wraps_the_old_pseudonym():
    old, new = Pseudonyms([K1]), Pseudonyms([K1, K2])
    assert new("u-1") == new.rewrap(old("u-1"))  # a stored id moves without the raw id
    assert new.rewrap(new("u-1")) == new("u-1")  # current ids stay
    assert new.rewrap("u-1") == new("u-1")  # a raw id stored before pseudonymization gets the whole chain
    assert new.forms("u-1") == (old("u-1"), new("u-1"))
    assert new.generation(old("u-1")) == 0 and new.generation(new("u-1")) == 1 and new.generation("u-1") is None


def test_erased_filter_finds_tombstones_of_any_generation():
    old, new = Pseudonyms([K1]), Pseudonyms([K1, K2])
    tombstoned = {old("gone-before"), new("gone-after"), "gone-raw"}  # the last: erased before pseudonymization
    erased = new.erased_filter(lambda ids: [i for i in ids if i in tombstoned])
    assert erased(["gone-before", "kept", "gone-after", "gone-before", "gone-raw"]) == ["gone-before", "gone-after", "gone-raw"]


def test_key_file_is_made_0600_and_rotation_appends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = load_keys(tmp_path)
    assert len(first) == 1 and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert load_keys(tmp_path) == first
    rotate_key_file(tmp_path)
    keys = load_keys(tmp_path)
    assert keys[0] == first[0] and len(keys) == 2 and (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_keys_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(KEY_ENV, K2.hex())
    monkeypatch.setenv(OLD_KEYS_ENV, K1.hex())
    assert load_keys(tmp_path) == [K1, K2] and not (tmp_path / KEY_FILE).exists()
    monkeypatch.setenv(KEY_ENV, "abc")
    with pytest.raises(ValueError, match=KEY_ENV):
        load_keys(tmp_path)
