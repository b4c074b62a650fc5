"""Per-user API keys: ``python -m scripts.cli.keys issue|list|rotate|revoke|terraform`` (``make keys``).

A tenant admin issues a key that belongs to one person of one tenant; the key decides the tenant and the
user on every surface. Only its SHA-256 and its first 12 characters are stored (the config table's
``userkey#<sha256>`` item); the key is printed once. ``terraform`` makes a key without touching any
table and prints the ``users.keys`` entry (hash only) for a tenant's tfvars, for keys that must exist at
apply. The table is ``--table`` or ``CONFIG_TABLE``; AWS credentials and endpoint are the SDK's usual
settings (``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` for the local stack's moto).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from botocore.exceptions import NoCredentialsError, NoRegionError

from scripts.testbed.local_stack import use_lambda_package

use_lambda_package()

from cost_sentry.adapters.user_keys import KeyAdminError, UserKeyAdmin  # noqa: E402
from cost_sentry.core.identity import SHOWN_PREFIX_LENGTH, UserKey, key_hash, new_secret  # noqa: E402
from cost_sentry.core.money import nanos_to_usd, usd_to_nanos_floor  # noqa: E402


def _expiry(text: str | None) -> int | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--expires must be an ISO date or instant, got {text!r}") from None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def _limit(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"--limit-usd must be a number, got {text!r}") from None
    if amount <= 0:
        raise argparse.ArgumentTypeError("--limit-usd must be positive")
    return usd_to_nanos_floor(amount)


def _when(epoch: int | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(key: UserKey) -> dict[str, str]:
    return {
        "prefix": key.prefix,
        "tenant": key.tenant_id,
        "user": key.user,
        "name": key.name or "-",
        "created": _when(key.created_at),
        "expires": _when(key.expires_at),
        "limitUsd": "-" if key.limit_nanos is None else nanos_to_usd(key.limit_nanos),
        "revoked": _when(key.revoked_at),
    }


def _admin(table: str | None) -> UserKeyAdmin:
    import boto3

    name = table or os.environ.get("CONFIG_TABLE")
    if not name:
        raise KeyAdminError("the config table: --table <name> or CONFIG_TABLE")
    return UserKeyAdmin(boto3.session.Session().client("dynamodb"), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", help="the config table (default: CONFIG_TABLE)")
    commands = parser.add_subparsers(dest="command", required=True)
    issue = commands.add_parser("issue", help="issue a key to one user of one tenant (printed once)")
    terraform = commands.add_parser("terraform", help="make a key for tfvars users.keys (nothing is written)")
    for command in (issue, terraform):
        command.add_argument("--tenant", required=True)
        command.add_argument("--user", required=True)
        command.add_argument("--name", default="", help="what the key is for, e.g. laptop, ci")
        command.add_argument("--expires", help="ISO date or instant (UTC), e.g. 2027-03-31")
        command.add_argument("--limit-usd", help="the user's budget per period with this key (at most)")
    listing = commands.add_parser("list", help="list keys (prefix, owner, expiry, limit, revoked)")
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true")
    for name, text in (
        ("rotate", "a new key for the same owner; the old one is revoked"),
        ("revoke", "revoke"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--tenant", required=True)
        command.add_argument("--key", required=True, help="the key's prefix (csk_xxxxxxxx) as list shows it")
    args = parser.parse_args(argv)
    try:
        if args.command == "terraform":
            secret = new_secret(secrets.token_bytes)
            entry = {
                "user": args.user,
                "sha256": key_hash(secret),
                "prefix": secret[:SHOWN_PREFIX_LENGTH],
                **({"expires": args.expires} if args.expires else {}),
                **({"limit_usd": float(args.limit_usd)} if args.limit_usd else {}),
            }
            print(f"key (give it to {args.user}; it is not stored anywhere): {secret}")
            print(f"tfvars, tenants.{args.tenant}.users.keys:")
            fields = " ".join(f"{k} = {json.dumps(v)}" for k, v in entry.items())
            print(f"  {args.name or secret[4:SHOWN_PREFIX_LENGTH]} = {{ {fields} }}")
            return 0
        admin = _admin(args.table)
        if args.command == "issue":
            secret, key = admin.issue(
                args.tenant,
                args.user,
                name=args.name,
                expires_at=_expiry(args.expires),
                limit_nanos=_limit(args.limit_usd),
            )
            print(f"key for {key.user} of {key.tenant_id} (shown once; only its hash is stored): {secret}")
            return 0
        if args.command == "list":
            rows = [_row(key) for key in admin.list(args.tenant)]
            if args.json:
                print(json.dumps(rows, indent=2))
            else:
                columns = list(_row(UserKey("", "", "", "")).keys())
                widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
                print("  ".join(c.ljust(widths[c]) for c in columns))
                for row in rows:
                    print("  ".join(row[c].ljust(widths[c]) for c in columns))
            return 0
        if args.command == "rotate":
            secret, new, old = admin.rotate(args.tenant, args.key)
            print(f"new key for {new.user} of {new.tenant_id} (shown once): {secret}")
            print(f"revoked {old.prefix}")
            return 0
        key = admin.revoke(args.tenant, args.key)
        print(f"revoked {key.prefix} ({key.user} of {key.tenant_id}) at {_when(key.revoked_at)}")
        return 0
    except (KeyAdminError, argparse.ArgumentTypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (NoRegionError, NoCredentialsError) as error:
        print(
            f"error: {error} The CLI reaches the config table with the standard AWS settings: set "
            "AWS_DEFAULT_REGION and credentials (AWS_PROFILE, or the AWS_ACCESS_KEY_ID pair).",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
