"""``make bench`` (ledger part): what the ledger's writes cost in DynamoDB write units, and how fast one
tenant can go under DynamoDB's 1,000 WCU/s per partition (and so per item).

(a) WCU per request (reserve + settle) at 1, 100, 1,000 and 5,000 requests in flight: the real Ledger
    writes its items, each write is sized by DynamoDB's rules (cost_sentry.adapters.tables: attribute
    name bytes + value bytes; 1 WCU per started KB of the larger of the old and new item; twice inside
    a transaction) and the item sizes are printed. For comparison, the single-item layout this replaced
    (every hold an attribute of the period item), sized by the same rules.
(b) The modeled ceiling of one tenant in requests/s for 1-, 5- and 20-second calls: the hottest
    partition's WCU per request (a shard's partition: the shard, its holds and its call records) against
    its 1,000 WCU/s, for 1 shard and for the shard counts chosen.
(c) A discrete-event simulation: the real Ledger code against scripts/devtools/throttled_dynamodb (an
    in-memory DynamoDB that enforces 1,000 WCU/s per item and per partition key on the simulated clock:
    the state before DynamoDB splits anything), a 2,000+ req/s Poisson load of calls lasting 1 s, past
    the point where the budget runs out; it prints admissions, denials, throttled writes, the hottest
    item's and partition key's peak WCU in any second, and the overspend (spent above the limit), which
    must be 0.

Figures are printed, never asserted here (tests/devtools/test_bench_ledger.py checks the invariants).
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cost_sentry.adapters.ledger import CallRecord, Ledger, LedgerWriteFailed, is_call_record, utc_timestamp
from cost_sentry.adapters.tables import item_size_bytes, write_units
from cost_sentry.core.errors import LimitExceeded
from cost_sentry.core.estimate import WorstCase
from cost_sentry.core.log import JsonLogger
from cost_sentry.core.tenants import tenant_from_document
from scripts.devtools.throttled_dynamodb import ThrottledDynamoDB

START = 1_795_348_830.0  # 2026-11-22T12:00:30Z
ITEM_WCU_PER_SECOND = 1_000
# DynamoDB's limit per partition; a partition key's items start in one partition.
PARTITION_WCU_PER_SECOND = 1_000
# The automatic shard count (CONTRACT.md): ceil(requests_per_minute / 6000), 8 without a rate limit.
DEFAULT_SHARDS = 8
SIMULATED_RATE = 2_400
CHOSEN_SHARDS = math.ceil(SIMULATED_RATE * 60 / 6_000)  # 24: what the rule picks for 2,400 req/s
IN_FLIGHT_LEVELS = (1, 100, 1_000, 5_000)
CALL_SECONDS = (1, 5, 20)
WORST = WorstCase(input_tokens=1_200, output_tokens=1_024, cost_nanos=1_580_000)


def tenant(limit_usd: str, shards: int, **extra: Any) -> Any:
    document = {
        "tenantId": "hot",
        "applicationId": "hot-app",
        "costCenter": "hot",
        "environment": "prod",
        "apiKeyIds": ["key-hot"],
        "budget": {"limitUsd": limit_usd, "period": "MONTHLY"},
        "limits": extra.pop("limits", {}),
        "ledger": {"shards": shards},
        "models": {
            "claude-3-haiku": "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/x"
        },
        **extra,
    }
    return tenant_from_document(document)


def call_record(request_id: str, cost: int, now: float) -> CallRecord:
    return CallRecord(
        request_id=request_id,
        timestamp=utc_timestamp(now),
        principal="arn:aws:sts::111111111111:assumed-role/cs-hot-invoker/alice",
        api_key_id="key-hot",
        user="alice",
        model="claude-3-haiku",
        model_id="arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/x",
        application_id="hot-app",
        cost_center="hot",
        environment="prod",
        input_tokens=1_150,
        output_tokens=700,
        cost_nanos=cost,
    )


# -- (a) WCU per request at a given number in flight ----------------------------------------------


@dataclass(frozen=True)
class RequestCost:
    in_flight: int
    total_wcu: int
    hottest_item_wcu: int
    # The most WCU one partition key took (a shard's partition: shard, hold, call record), and the
    # tenant's own partition key (the head, credits): 0 per request.
    hottest_partition_wcu: int
    tenant_partition_wcu: int
    shard_bytes: int
    head_bytes: int
    hold_bytes: int
    call_record_bytes: int


def measure_request(in_flight: int, shards: int = 1) -> RequestCost:
    """Reserve ``in_flight - 1`` holds, then one more request (reserve + settle), charging every write."""
    now = [START]
    table = ThrottledDynamoDB(lambda: now[0], item_wcu_per_second=float("inf"))
    ledger = Ledger(table, "ledger", hold_lifetime_seconds=150, clock=lambda: now[0], rng=random.Random(7))
    hot = tenant("1000000", shards, limits={"requestsPerMinute": 10_000_000})
    # The period's first request creates the head and funds the shard; measure a warm period.
    ledger.release(ledger.reserve(hot, "warm-up", WORST))
    for number in range(in_flight - 1):
        ledger.reserve(hot, f"held-{number:05d}", WORST)
    before = dict(table.units_by_key)
    reservation = ledger.reserve(hot, "measured", WORST)
    hold = next(item for item in table.items() if item["sk"]["S"].endswith("#measured"))
    ledger.settle(reservation, call_record("measured", 1_140_000, now[0]))
    spent = {key: units - before.get(key, 0) for key, units in table.units_by_key.items()}
    spent = {key: units for key, units in spent.items() if units}
    shared = {key: units for key, units in spent.items() if key[1].startswith(("PERIOD#", "USER#"))}
    partitions: Counter[str] = Counter()
    for (partition, _), units in spent.items():
        partitions[partition] += int(units)
    items = {(item["pk"]["S"], item["sk"]["S"]): item for item in table.items()}
    shard_key = (f"hot#S{reservation.shard}", f"{reservation.period_key}#S{reservation.shard}")
    call = next(item for key, item in items.items() if key[1].endswith("#measured"))
    return RequestCost(
        in_flight=in_flight,
        total_wcu=int(sum(spent.values())),
        hottest_item_wcu=int(max(shared.values())),
        hottest_partition_wcu=max(partitions.values()),
        tenant_partition_wcu=partitions.get("hot", 0),
        shard_bytes=item_size_bytes(items[shard_key]),
        head_bytes=item_size_bytes(items[("hot", reservation.period_key)]),
        hold_bytes=item_size_bytes(hold),
        call_record_bytes=item_size_bytes(call),
    )


def old_layout_bytes(in_flight: int) -> int:
    """The period item of the single-item layout with ``in_flight`` holds, sized by the same rules."""
    item: dict[str, Any] = {
        "pk": {"S": "hot"},
        "sk": {"S": "PERIOD#2026-11"},
        "limit_nanos": {"N": "1000000000000000"},
        "available_nanos": {"N": "987654321012345"},
        "spent_nanos": {"N": "12345678987655"},
        "requests": {"N": "1234567"},
        "input_tokens": {"N": "1234567890"},
        "output_tokens": {"N": "987654321"},
        "rpm_202611221200": {"N": "12345"},
    }
    base = item_size_bytes(item)
    hold = {
        f"hold_{uuid.UUID(int=7)}": {
            "M": {"nanos": {"N": str(WORST.cost_nanos)}, "tokens": {"N": "0"}, "expires": {"N": "1795348980"}}
        }
    }
    return base + in_flight * item_size_bytes(hold)


def old_layout_wcu(in_flight: int, call_record_bytes: int) -> tuple[int, int]:
    """(WCU per request, WCU per request on the period item): reserve UpdateItem + a settle transaction
    (the period item and the call record, each counted twice)."""
    units = write_units(old_layout_bytes(in_flight))
    hot = units + write_units(old_layout_bytes(in_flight), transactional=True)
    return hot + write_units(call_record_bytes, transactional=True), hot


# -- (b) the modeled ceiling ----------------------------------------------------------------------


def ceiling_new(hottest_partition_wcu: int, shards: int) -> int:
    """Requests/s until a shard's partition reaches 1,000 WCU/s (requests spread evenly over the shards,
    each shard with its holds and call records in its own partition; the item sizes do not depend on the
    number in flight, so neither does this)."""
    return int(PARTITION_WCU_PER_SECOND * shards / hottest_partition_wcu)


def ceiling_old(call_seconds: float) -> int:
    """Requests/s until the one period item reaches 1,000 WCU/s; in flight = rate x call length."""
    rate = 1
    while True:
        candidate = rate + 1
        _, hot = old_layout_wcu(int(candidate * call_seconds), 0)
        if candidate * hot > ITEM_WCU_PER_SECOND:
            return rate
        rate = candidate


# -- (c) the discrete-event simulation ------------------------------------------------------------


@dataclass
class SimulationResult:
    shards: int
    offered_per_second: float
    seconds: float
    limit_nanos: int
    admitted: int = 0
    denied: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0
    settle_failed: int = 0
    swept: int = 0
    throttled_writes: int = 0
    spent_nanos: int = 0
    call_record_nanos: int = 0
    peak_item_wcu: float = 0
    peak_item: str = ""
    head_writes_per_request: float = 0
    peak_partition_wcu: float = 0
    in_flight_peak: int = 0
    # Seconds into the run of the first budget denial, and what was admitted until then.
    budget_lasted: float | None = None
    admitted_while_budget_lasted: int = 0

    @property
    def overspend_nanos(self) -> int:
        return max(0, self.spent_nanos - self.limit_nanos)


class _SimulatedTime:
    """The simulation's clock; a ledger retry's jitter sleep moves only the current event forward."""

    def __init__(self) -> None:
        self.now = START
        self.offset = 0.0

    def __call__(self) -> float:
        return self.now + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds


def simulate(
    *,
    rate: float = SIMULATED_RATE,
    seconds: float = 4.0,
    call_seconds: float = 1.0,
    shards: int = CHOSEN_SHARDS,
    limit_usd: str = "6.0",
    seed: int = 11,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Poisson arrivals at ``rate``/s for ``seconds``; each admitted call lasts ~``call_seconds`` and
    settles at 30-100 % of its worst case. The budget (USD ``limit_usd``) runs out during the run."""
    clock = _SimulatedTime()
    table = ThrottledDynamoDB(
        clock, item_wcu_per_second=ITEM_WCU_PER_SECOND, partition_wcu_per_second=PARTITION_WCU_PER_SECOND
    )
    ledger = Ledger(
        table,
        "ledger",
        hold_lifetime_seconds=150,
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(seed),
        # Its give-ups are counted below (503s, settles left to the sweep), not printed line by line.
        logger=JsonLogger(sink=lambda line: None),
    )
    hot = tenant(limit_usd, shards)
    randomness = random.Random(seed)
    result = SimulationResult(shards, rate, seconds, hot.budget_limit_nanos)
    events: list[tuple[float, int, str, Any]] = []
    moment, number = START, 0
    while moment < START + seconds:
        moment += randomness.expovariate(rate)
        heapq.heappush(events, (moment, number, "arrive", f"r{number:06d}"))
        number += 1
    sequence = number
    in_flight = 0
    while events:
        at, _, kind, payload = heapq.heappop(events)
        clock.now, clock.offset = at, 0.0
        if kind == "arrive":
            try:
                reservation = ledger.reserve(hot, payload, WORST)
            except LimitExceeded as denied:
                result.denied[denied.code] += 1
                if denied.code == "budget_exhausted" and result.budget_lasted is None:
                    result.budget_lasted = at - START
                    result.admitted_while_budget_lasted = result.admitted
                continue
            except LedgerWriteFailed:
                result.unavailable += 1
                continue
            result.admitted += 1
            in_flight += 1
            result.in_flight_peak = max(result.in_flight_peak, in_flight)
            ends = clock() + call_seconds * randomness.uniform(0.5, 1.5)
            heapq.heappush(events, (ends, sequence, "settle", reservation))
            sequence += 1
        else:
            in_flight -= 1
            actual = int(WORST.cost_nanos * randomness.uniform(0.3, 1.0))
            try:
                ledger.settle(payload, call_record(payload.request_id, actual, clock()))
            except LedgerWriteFailed:
                result.settle_failed += 1  # the hold stays: the sweep charges its worst case
    clock.now, clock.offset = START + seconds + 3_600, 0.0  # every hold has expired
    result.swept = ledger.sweep_expired(hot, clock())
    items = table.items()  # one tenant: every partition key is hot or hot#...
    shard_items = [
        item for item in items if item["sk"]["S"].startswith("PERIOD#") and "#S" in item["sk"]["S"]
    ]
    result.spent_nanos = sum(int(item.get("spent_nanos", {"N": "0"})["N"]) for item in shard_items)
    result.call_record_nanos = sum(int(item["cost_nanos"]["N"]) for item in items if is_call_record(item))
    result.throttled_writes = table.throttled
    shared = {key: peak for key, peak in table.peak.items() if key[1].startswith("PERIOD#")}
    peak_key = max(shared, key=lambda key: shared[key])
    result.peak_item, result.peak_item_wcu = peak_key[1], shared[peak_key]
    head_units = table.units_by_key.get(("hot", peak_key[1].split("#S")[0]), 0)
    result.peak_partition_wcu = max(table.partition_peak.values(), default=0)
    result.head_writes_per_request = head_units / max(result.admitted, 1)
    return result


# -- output ---------------------------------------------------------------------------------------


def print_report(levels: tuple[int, ...], rate: float, seconds: float) -> None:
    print("Ledger write cost (DynamoDB sizing rules; 1 WCU per started KB, transactions counted twice)")
    print(
        f"    {'in flight':>9} {'WCU/request':>11} {'hottest item':>12} {'hottest pk':>10} {'tenant pk':>9} "
        f"{'shard B':>8} {'head B':>7} {'hold B':>7} {'call B':>7} | {'before: WCU/req':>15} {'period item B':>13}"
    )
    costs = [measure_request(level) for level in levels]
    for cost in costs:
        before_total, _ = old_layout_wcu(cost.in_flight, cost.call_record_bytes)
        print(
            f"    {cost.in_flight:>9,} {cost.total_wcu:>11} {cost.hottest_item_wcu:>12} "
            f"{cost.hottest_partition_wcu:>10} {cost.tenant_partition_wcu:>9} {cost.shard_bytes:>8} "
            f"{cost.head_bytes:>7} {cost.hold_bytes:>7} {cost.call_record_bytes:>7} | "
            f"{before_total:>15} {old_layout_bytes(cost.in_flight):>13,}"
        )
    hottest = max(cost.hottest_partition_wcu for cost in costs)
    print("    the hottest item is a shard: 1 WCU for the reserve + 1 for the settle, at every level;")
    print(
        "    the hottest partition key is that shard's (<tenant>#S<k>): the shard and the request's own item"
    )
    print(
        "    (PutItem of the hold, then one UpdateItem turning it into the call record in place); the tenant's"
    )
    print("    own key (the head) takes none.")
    print()
    print(
        f"Modeled ceiling of one tenant, requests/s under {PARTITION_WCU_PER_SECOND:,} WCU/s per partition "
        f"({hottest} WCU per request on a shard's partition)"
    )
    columns = (1, DEFAULT_SHARDS, CHOSEN_SHARDS)
    header = " ".join(f"{f'{count} shard' + ('s' if count > 1 else ''):>10}" for count in columns)
    print(f"    {'call length':>11} {header} | {'before':>6}")
    for call in CALL_SECONDS:
        figures = " ".join(f"{ceiling_new(hottest, count):>10,}" for count in columns)
        print(f"    {call:>10}s {figures} | {ceiling_old(call):>6,}")
    print(
        f"    ({CHOSEN_SHARDS} shards: the automatic count for {SIMULATED_RATE * 60:,} requests per minute)"
    )
    per_item = ITEM_WCU_PER_SECOND // max(cost.hottest_item_wcu for cost in costs)
    print(
        f"    Each shard has its own partition key, so these hold from the first second, with no split for heat.\n"
        f"    What remains: one shard carries {ceiling_new(hottest, 1):,} req/s (its partition; the shard item alone\n"
        f"    would carry {per_item:,}), and one end user with a per-user budget {per_item:,} req/s (the user's item,\n"
        f"    in its own partition <tenant>#U#<user>)."
    )
    print()
    for shards in (CHOSEN_SHARDS, DEFAULT_SHARDS, 1):
        run = simulate(rate=rate, seconds=seconds, shards=shards)
        print(
            f"Simulation ({shards} shard{'s' if shards > 1 else ''}): Poisson {rate:,.0f} req/s for {seconds:g} s, "
            f"1 s calls, 1,000 WCU/s per item and per partition key, budget USD {run.limit_nanos / 1e9:g}"
        )
        offered = run.admitted + sum(run.denied.values()) + run.unavailable
        print(
            f"    offered {offered:,}, admitted {run.admitted:,} ({run.admitted / seconds:,.0f}/s), "
            f"denied {dict(run.denied)}, 503 (throttled out) {run.unavailable:,}"
        )
        if run.budget_lasted:
            print(
                f"    until the budget ran out at {run.budget_lasted:.2f} s: "
                f"{run.admitted_while_budget_lasted / run.budget_lasted:,.0f} admitted/s"
            )
        print(
            f"    throttled writes {run.throttled_writes:,} (retried with jitter), settles left to the sweep "
            f"{run.settle_failed:,}, swept {run.swept:,}, peak in flight {run.in_flight_peak:,}"
        )
        print(
            f"    hottest item {run.peak_item}: peak {run.peak_item_wcu:,.0f} WCU in one second, hottest "
            f"partition key {run.peak_partition_wcu:,.0f}; "
            f"head WCU per admitted request {run.head_writes_per_request:.3f}"
        )
        print(
            f"    spent {run.spent_nanos:,} of {run.limit_nanos:,} nanos, call records {run.call_record_nanos:,}: "
            f"overspend {run.overspend_nanos}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=SIMULATED_RATE, help="simulated requests per second")
    parser.add_argument("--seconds", type=float, default=4.0, help="simulated seconds of arrivals")
    parser.add_argument("--quick", action="store_true", help="in-flight levels up to 1,000 only")
    arguments = parser.parse_args(argv)
    # The ledger logs every hold the sweep charges and every throttled-out write: thousands here.
    logging.getLogger("cost_sentry.adapters.ledger").setLevel(logging.CRITICAL)
    levels = IN_FLIGHT_LEVELS[:3] if arguments.quick else IN_FLIGHT_LEVELS
    print_report(levels, arguments.rate, arguments.seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
