"""``make bench`` (streaming part): time to first byte through the gateway against the stand-in directly.

The Bedrock stand-in sends its first token after 1 s and then one token every 20 ms, as a model does.
The same ConverseStream request is made N times with boto3, (a) straight to the stand-in (SigV4) and
(b) through the gateway's native Bedrock surface over HTTPS (the tenant's key as a bearer token, so
the whole path runs: authentication, validation, the ledger reservation on the DynamoDB emulator, the
Bedrock call, streaming through the front, and the settle). Time to first byte is until the first
event is parsed; time to last byte until the stream ends. Printed, never asserted: the target is a
first-byte ratio of at most 1.05, a gateway that streams rather than waits for the whole answer (which
would take 1 s + tokens x 20 ms).

``python -m scripts.devtools.bench_streaming [--runs 7] [--tokens 50]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import boto3
from botocore.config import Config

from scripts.testbed.local_stack import LocalStack, account_outputs

FIRST_TOKEN_MS = 1000
TOKEN_INTERVAL_MS = 20
TFVARS = """
environment = "bench"
tenants = {
  bench = {
    application_id = "bench-app"
    cost_center    = "bench"
    models         = ["nova-lite"]
    budget         = { limit_usd = 1000 }
  }
}
"""


def timed_stream(client: Any, model_id: str, max_tokens: int) -> tuple[float, float, int]:
    started = time.perf_counter()
    response = client.converse_stream(
        modelId=model_id,
        messages=[{"role": "user", "content": [{"text": "Stream a short summary of the month's spend."}]}],
        inferenceConfig={"maxTokens": max_tokens},
    )
    events = iter(response["stream"])
    next(events)
    first = time.perf_counter() - started
    deltas = sum(1 for event in events if "contentBlockDelta" in event)
    return first, time.perf_counter() - started, deltas


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=50)
    args = parser.parse_args(argv)
    saved = {
        name: os.environ.pop(name, None) for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    }
    try:
        with LocalStack(
            outputs=account_outputs(tfvars_text=TFVARS),
            https=True,
            bedrock_reply_tokens=args.tokens,
            bedrock_first_token_ms=FIRST_TOKEN_MS,
            bedrock_token_interval_ms=TOKEN_INTERVAL_MS,
        ) as stack:
            tenant = stack.tenants["bench"]
            profile = tenant.profile_arns["nova-lite"]
            direct = boto3.session.Session().client(
                "bedrock-runtime",
                region_name="us-east-1",
                endpoint_url=stack.bedrock_url,
                config=Config(signature_version="v4"),  # SigV4, as the gateway calls Bedrock
            )
            os.environ["AWS_BEARER_TOKEN_BEDROCK"] = tenant.api_key
            os.environ["AWS_CA_BUNDLE"] = stack.ca_file
            try:
                gateway = boto3.session.Session().client(
                    "bedrock-runtime", region_name="us-east-1", endpoint_url=stack.gateway_https_url
                )
                # Warm both paths (connections, the gateway's config load) before measuring.
                timed_stream(direct, profile, args.tokens)
                timed_stream(gateway, "nova-lite", args.tokens)
                direct_runs = [timed_stream(direct, profile, args.tokens) for _ in range(args.runs)]
                gateway_runs = [timed_stream(gateway, "nova-lite", args.tokens) for _ in range(args.runs)]
            finally:
                os.environ.pop("AWS_BEARER_TOKEN_BEDROCK", None)
                os.environ.pop("AWS_CA_BUNDLE", None)
    finally:
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value
    first_direct = statistics.median(r[0] for r in direct_runs)
    first_gateway = statistics.median(r[0] for r in gateway_runs)
    last_direct = statistics.median(r[1] for r in direct_runs)
    last_gateway = statistics.median(r[1] for r in gateway_runs)
    whole = (FIRST_TOKEN_MS + args.tokens * TOKEN_INTERVAL_MS) / 1000
    print(
        f"Streaming: stand-in first token after {FIRST_TOKEN_MS} ms, then a token every {TOKEN_INTERVAL_MS} ms;"
    )
    print(f"  {args.tokens} tokens, {args.runs} runs each, medians (boto3 converse_stream)")
    print(
        f"  time to first byte  direct {first_direct * 1000:7.1f} ms   gateway (HTTPS) {first_gateway * 1000:7.1f} ms"
    )
    print(f"  ratio gateway/direct: {first_gateway / first_direct:.3f} (target <= 1.05)")
    print(
        f"  time to last byte   direct {last_direct * 1000:7.1f} ms   gateway (HTTPS) {last_gateway * 1000:7.1f} ms"
    )
    print(f"  a gateway that buffered would answer its first byte after >= {whole * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
