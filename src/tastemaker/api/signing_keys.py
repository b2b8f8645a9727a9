"""The keys that sign OAuth access tokens (ES256), with rotation.

A keyring lives in ``<data dir>/signing-keys/``: one PKCS#8 PEM file per key, ``<kid>.pem``,
mode 0600 in a 0700 directory, and ``keyring.json`` naming the active key and when each
other key was retired. Rotation makes a new key the active one and keeps the old ones for
verification until every token they signed has expired (retired longer ago than the token
lifetime plus the leeway), then deletes their files. Public keys are served as a JWKS; the
private ones never leave the directory.

Every process sharing the data dir sees a rotation made by another one (the CLI, another
worker): :meth:`SigningKeys.refresh` re-reads the keyring when its file changed (one
``stat``), which signing does on each token and verification does on an unknown ``kid``.
``TASTEMAKER_JWT_PRIVATE_KEY`` (a PEM) replaces the directory with that one key, for
deployments that keep secrets outside the disk (rotation is then the operator's: change the
variable and restart; tokens signed by the previous key are refused from then on).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
_ENV_KEY = "TASTEMAKER_JWT_PRIVATE_KEY"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey
    created_at: float
    retired_at: float | None = None

    def jwk(self) -> dict[str, Any]:
        """The public half as a JWK (RFC 7517), with ``kid``, ``alg`` and ``use``."""
        jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _load_pem(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the JWT signing key must be an EC P-256 private key (ES256)")
    return key


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only, atomically (never a moment at 0644)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class SigningKeys:
    """The keyring of one deployment; ``token_ttl_s + leeway_s`` is how long a retired key
    must still verify."""

    def __init__(self, directory: Path, token_ttl_s: float, leeway_s: float):
        self.directory = directory
        self.keep_s = token_ttl_s + leeway_s
        self._stamp: tuple[int, int] | None = None
        self.keys: dict[str, SigningKey] = {}
        self.active: SigningKey | None = None
        env = os.environ.get(_ENV_KEY)
        if env:
            key = _load_pem(env.encode())
            der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            self.active = SigningKey("env-" + hashlib.sha256(der).hexdigest()[:16], key, 0.0)
            self.keys = {self.active.kid: self.active}
            self.from_env = True
            return
        self.from_env = False
        if not (directory / "keyring.json").exists():
            self.rotate()  # the first key of a deployment
        self.refresh()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        with open(self.directory / "keyring.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two rotations at once (CLI and a server) take turns
            yield

    def _read_ring(self) -> dict[str, Any]:
        try:
            return json.loads((self.directory / "keyring.json").read_text())
        except FileNotFoundError:
            return {"active": None, "keys": {}}

    def refresh(self) -> bool:
        """Re-read the keyring if another process changed it; True when it did."""
        if self.from_env:
            return False
        try:
            st = os.stat(self.directory / "keyring.json")
        except FileNotFoundError:
            return False
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return False
        ring = self._read_ring()
        keys = {}
        for kid, meta in ring["keys"].items():
            known = self.keys.get(kid)
            private = known.private if known is not None else _load_pem((self.directory / f"{kid}.pem").read_bytes())
            keys[kid] = SigningKey(kid, private, meta["created_at"], meta.get("retired_at"))
        self.keys, self.active, self._stamp = keys, keys[ring["active"]], stamp
        return True

    def rotate(self, now: float | None = None) -> SigningKey:
        """Make a new key the active one; retire the previous one; delete keys retired longer
        ago than any token they signed can live. Returns the new key."""
        if self.from_env:
            raise RuntimeError(f"the signing key comes from {_ENV_KEY}: change it there (and restart) to rotate")
        now = time.time() if now is None else now
        with self._locked():
            ring = self._read_ring()
            kid = time.strftime("%Y%m%d", time.gmtime(now)) + "-" + secrets.token_hex(4)
            key = ec.generate_private_key(ec.SECP256R1())
            _write_private(self.directory / f"{kid}.pem", _pem(key))
            for old, meta in ring["keys"].items():
                if old == ring["active"]:
                    meta["retired_at"] = now
            expired = [k for k, m in ring["keys"].items() if m.get("retired_at") is not None and m["retired_at"] < now - self.keep_s]
            for old in expired:
                del ring["keys"][old]
            ring["keys"][kid] = {"created_at": now, "retired_at": None}
            ring["active"] = kid
            _write_private(self.directory / "keyring.json", json.dumps(ring, indent=1).encode())
            for old in expired:
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / f"{old}.pem").unlink()
        self.refresh()
        return self.keys[kid]

    def jwks(self) -> dict[str, Any]:
        """Every key that may still verify a token, public halves only (``GET /.well-known/jwks.json``)."""
        self.refresh()
        return {"keys": [k.jwk() for k in self.keys.values()]}
