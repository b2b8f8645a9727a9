"""``tastemaker auth rotate-signing-key|signing-keys``: the keys that sign OAuth access tokens."""

from __future__ import annotations

import argparse
import sys

from tastemaker.cli.base import add_data_dir, record_audit, settings


def _keys(args: argparse.Namespace):
    from tastemaker.api.signing_keys import SigningKeys

    config = settings(args)  # old keys are kept for the token lifetime + leeway (TASTEMAKER_TOKEN_*)
    return SigningKeys(config.data_dir / "signing-keys", config.token_ttl_s, config.token_leeway_s)


def cmd_auth(args: argparse.Namespace) -> int:
    keys = _keys(args)
    if args.action == "rotate-signing-key":
        if keys.from_env:
            print("the signing key comes from TASTEMAKER_JWT_PRIVATE_KEY: change it there and restart", file=sys.stderr)
            return 1
        new = keys.rotate()
        from tastemaker.storage.factory import open_stores

        with open_stores(settings(args)) as stores:
            record_audit(stores, "signing_keys.rotate", new.kid, {"kept": sorted(k for k in keys.keys if k != new.kid)})
        print(f"new signing key {new.kid}; servers sign with it from their next token")
    for key in keys.keys.values():
        state = "active" if keys.active is key else f"retired {key.retired_at:.0f} (verifies until its tokens expire)"
        print(f"{key.kid}\t{state}")
    return 0


def register(sub: argparse._SubParsersAction, formatter: type[argparse.HelpFormatter]) -> None:
    p = sub.add_parser("auth", help="OAuth token signing keys: rotate, list", formatter_class=formatter,
                       description="Access tokens are ES256 JWTs signed by the active key of <data dir>/signing-keys "
                                   "(files readable by their owner only); older keys verify until their tokens expire.")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    k = actions.add_parser("rotate-signing-key", help="sign new tokens with a new key (audited)", formatter_class=formatter)
    add_data_dir(k)
    k = actions.add_parser("signing-keys", help="list the keys (kid, active or retired); never a private key",
                           formatter_class=formatter)
    add_data_dir(k)
    p.set_defaults(func=cmd_auth, group=p)
