"""OAuth2 access tokens: short-lived ES256 JWTs, issued to clients and verified per request.

Claims: ``iss``, ``aud``, ``sub`` (the client id), ``iat``, ``nbf``, ``exp``, ``jti``,
``scope`` (the roles granted, space-separated, RFC 6749 style) and, for a client restricted
to placements, ``placements``.

Verification accepts ES256 only (``none``, HS* and RS* are refused before any key is
touched, so an HMAC signed with the public key cannot pass), a ``kid`` of the keyring, the
deployment's issuer and audience, and ``exp``/``nbf`` within a small leeway. A token that
verified is cached by its exact string until it expires: ES256 verification costs tens of
microseconds, a cache hit a dict lookup and a clock read, so the hot path stays fast.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from tastemaker.api.signing_keys import ALGORITHM, SigningKeys

ISSUER = "tastemaker"
AUDIENCE = "tastemaker-api"
# Defaults for a Tokens built by hand; a server takes them from Settings.token_* (TASTEMAKER_TOKEN_TTL_S,
# _LEEWAY_S, _ISSUER, _AUDIENCE), whose defaults are these.
TOKEN_TTL_S = 900.0  # 15 minutes: a leaked token is worth little, a client asks again cheaply
LEEWAY_S = 30.0  # clock skew between the issuing and the verifying machine
_CACHE_MAX = 10_000
_REQUIRED = ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]


def looks_like_jwt(token: str) -> bool:
    """A JWS compact serialisation: three base64url parts, a JSON header (``eyJ`` = ``{"``).

    >>> looks_like_jwt("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"), looks_like_jwt("tm_abc_def")
    (True, False)
    """
    return token.startswith("eyJ") and token.count(".") == 2


class Tokens:
    """Issues and verifies access tokens over a keyring."""

    def __init__(self, keys: SigningKeys, issuer: str = ISSUER, audience: str = AUDIENCE,
                 ttl_s: float = TOKEN_TTL_S, leeway_s: float = LEEWAY_S):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self.leeway_s = leeway_s
        self._cache: dict[str, dict[str, Any]] = {}

    def issue(self, client_id: str, roles: frozenset[str], placements: frozenset[str] | None,
              now: float | None = None) -> tuple[str, dict[str, Any]]:
        """A signed token for ``client_id`` and its claims."""
        self.keys.refresh()  # a rotation made by another process signs from now on
        key = self.keys.active
        assert key is not None
        now = int(time.time() if now is None else now)
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": client_id, "iat": now, "nbf": now,
                                  "exp": now + int(self.ttl_s), "jti": secrets.token_urlsafe(12),
                                  "scope": " ".join(sorted(roles))}
        if placements is not None:
            claims["placements"] = sorted(placements)
        return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid}), claims

    def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims when it is valid now, else None (never raises on bad input)."""
        claims = self._cache.get(token)
        if claims is not None:
            if time.time() < claims["exp"] + self.leeway_s:
                return claims
            del self._cache[token]
            return None
        claims = self._decode(token)
        if claims is None:
            return None
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[token] = claims
        return claims

    def reason(self, token: str) -> str:
        """Why :meth:`verify` refused ``token``, in words (for the 401's detail; never the token)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return "the bearer token is not a well-formed JWT"
        if header.get("alg") != ALGORITHM:
            return f"the access token's algorithm {str(header.get('alg'))[:16]!r} is not accepted (only {ALGORITHM})"
        if self._key(header.get("kid")) is None:
            return "the access token was signed by an unknown key (kid)"
        try:
            self._claims(token, header)
        except jwt.ExpiredSignatureError:
            return "the access token has expired: ask POST /oauth/token for a new one"
        except jwt.ImmatureSignatureError:
            return "the access token is not valid yet (nbf)"
        except jwt.InvalidAudienceError:
            return f"the access token is not for this API (aud must be {self.audience!r})"
        except jwt.InvalidIssuerError:
            return f"the access token was not issued here (iss must be {self.issuer!r})"
        except jwt.InvalidSignatureError:
            return "the access token's signature does not verify"
        except jwt.PyJWTError as exc:
            return f"the access token is not valid ({type(exc).__name__})"
        return "the access token's client is unknown or revoked"

    def _key(self, kid: Any):
        if not isinstance(kid, str):
            return None
        key = self.keys.keys.get(kid)
        if key is None and self.keys.refresh():  # a key rotated in by another process
            key = self.keys.keys.get(kid)
        return key

    def _claims(self, token: str, header: dict[str, Any]) -> dict[str, Any]:
        key = self._key(header.get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("unknown kid")
        return jwt.decode(token, key.private.public_key(), algorithms=[ALGORITHM], audience=self.audience,
                          issuer=self.issuer, leeway=self.leeway_s, options={"require": _REQUIRED})

    def _decode(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != ALGORITHM:  # before any key: no 'none', no HS256 keyed with our public key
                return None
            claims = self._claims(token, header)
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("scope", ""), str):
            return None
        return claims
