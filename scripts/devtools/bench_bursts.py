"""``make bench`` (burst part, issue 14): false denials of concurrent bursts against the real Ledger on
moto's DynamoDB (server mode, requests serialized as strictly as DynamoDB applies a conditional write).

Two kinds of burst, each at the start of a period (no head yet: every request is the period's first)
and mid-period (after 20 settled calls), on 1, 8 and 16 shards:

- **fits**: ``concurrent`` requests whose worst cases add up to 1% of a USD 0.50 budget. Every one fits,
  so every denial (429 or 503) is a false one.
- **exhaust**: 128 requests of USD 0.00512 each (a 4096-token call's worst case) against USD 0.50,
  all held at once before any settles: exactly floor(0.50 / 0.00512) = 97 fit. Fewer admitted is a
  false denial; more would be an overspend.

Every request is started behind one barrier and holds its reservation until all have answered, so the
burst is as concurrent as the emulator allows. ``run_burst`` is what tests/adapters/test_ledger_bursts.py
asserts (zero false denials, zero overspend); this module prints the whole grid.
"""

from __future__ import annotations

import argparse
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cost_sentry.adapters.ledger import Ledger
from cost_sentry.adapters.tables import create_tables
from cost_sentry.core.errors import GatewayError
from cost_sentry.core.estimate import WorstCase
from scripts.devtools.bench_ledger import call_record, tenant

LIMIT_NANOS = 500_000_000  # USD 0.50
WARM_UP_CALLS = 20
EXHAUST_CONCURRENT = 128
EXHAUST_WORST_NANOS = 5_120_000  # 4096 output tokens of a USD 1.25 per million model


@dataclass(frozen=True)
class Burst:
    kind: str
    phase: str
    shards: int
    concurrent: int
    fits: int  # how many can be admitted at once
    admitted: int
    denials: Counter[str]
    spent_nanos: int

    @property
    def false_denials(self) -> int:
        return min(self.fits, self.concurrent) - self.admitted

    @property
    def overspend_nanos(self) -> int:
        return max(0, self.spent_nanos - LIMIT_NANOS)


def _client(endpoint: str, connections: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's
        config=Config(max_pool_connections=connections, retries={"mode": "standard"}),
    )


def run_burst(endpoint: str, *, kind: str, phase: str, shards: int, concurrent: int) -> Burst:
    """One burst on a table of its own; returns what was admitted and denied."""
    client = _client(endpoint, min(concurrent, 128))
    table = f"burst-{uuid.uuid4().hex[:12]}"
    create_tables(client, table, f"{table}-config")
    ledger = Ledger(client, table, hold_lifetime_seconds=150)
    config = tenant(f"{LIMIT_NANOS / 1e9:.2f}", shards)
    worst_nanos = LIMIT_NANOS // 100 // concurrent if kind == "fits" else EXHAUST_WORST_NANOS
    worst = WorstCase(input_tokens=90, output_tokens=10, cost_nanos=worst_nanos)
    spent_before = 0
    if phase == "mid":
        for number in range(WARM_UP_CALLS):
            reservation = ledger.reserve(config, f"warm{number}", worst)
            ledger.settle(reservation, call_record(reservation.request_id, worst_nanos // 2, 0))
            spent_before += worst_nanos // 2
    fits = (LIMIT_NANOS - spent_before) // worst_nanos
    start, held = threading.Barrier(concurrent), threading.Barrier(concurrent)
    outcomes: list[str] = []
    lock = threading.Lock()

    def one(number: int) -> None:
        reservation = None
        start.wait()
        try:
            reservation = ledger.reserve(config, f"r{number:04d}", worst)
            outcome = "admitted"
        except GatewayError as denied:
            outcome = denied.code
        finally:
            held.wait()  # every reservation is outstanding before any settles
        with lock:
            outcomes.append(outcome)
        if reservation is not None:
            ledger.settle(reservation, call_record(reservation.request_id, worst_nanos, 0))

    threads = [threading.Thread(target=one, args=(number,)) for number in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = Counter(outcomes)
    return Burst(
        kind=kind,
        phase=phase,
        shards=shards,
        concurrent=concurrent,
        fits=fits,
        admitted=counts.pop("admitted", 0),
        denials=counts,
        spent_nanos=ledger.period_status(config).spent_nanos,
    )


def main(argv: list[str] | None = None) -> int:
    from scripts.testbed.emulators.moto_server import start_moto

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="150,512", help="burst sizes of the 'fits' kind")
    parser.add_argument("--shards", default="1,8,16")
    args = parser.parse_args(argv)
    server, endpoint = start_moto()
    try:
        print("Bursts against the real Ledger on moto (issue 14): false denials must be 0, overspend 0")
        print(
            f"{'kind':8} {'phase':6} {'shards':>6} {'burst':>6} {'fit':>5} {'admitted':>8} "
            f"{'false no':>8} {'overspend':>9}  denials"
        )
        grid = [("fits", int(size)) for size in args.sizes.split(",")] + [("exhaust", EXHAUST_CONCURRENT)]
        for kind, size in grid:
            for phase in ("start", "mid"):
                for shards in (int(value) for value in args.shards.split(",")):
                    burst = run_burst(endpoint, kind=kind, phase=phase, shards=shards, concurrent=size)
                    print(
                        f"{kind:8} {phase:6} {shards:>6} {size:>6} {min(burst.fits, size):>5} "
                        f"{burst.admitted:>8} {burst.false_denials:>8} {burst.overspend_nanos:>9}  "
                        f"{dict(burst.denials) or '-'}"
                    )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
