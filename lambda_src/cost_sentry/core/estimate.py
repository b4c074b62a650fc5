"""The worst case a request can cost, reserved before Bedrock is called. Pure functions.

Input tokens are bounded by UTF-8 bytes: every tokenizer of the catalog's families (byte-level BPE for
Claude and Llama 3, SentencePiece with byte fallback for Nova) emits at least one byte of text per token.
On top of the text, chat templates add role markers and turn separators (Llama 3: five special tokens
per turn; Claude: "\n\nHuman:"-style markers of a few tokens): PER_MESSAGE_OVERHEAD_TOKENS is a generous
bound for those, PER_REQUEST_OVERHEAD_TOKENS for the template's frame (begin-of-text, the assistant
prefix). Over-estimating costs nothing lasting: the difference is given back when the call settles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cost_sentry.core.catalog import ModelSpec

PER_MESSAGE_OVERHEAD_TOKENS = 16
PER_REQUEST_OVERHEAD_TOKENS = 64


def input_token_upper_bound(texts: Sequence[str]) -> int:
    return (
        sum(len(text.encode("utf-8")) for text in texts)
        + PER_MESSAGE_OVERHEAD_TOKENS * len(texts)
        + PER_REQUEST_OVERHEAD_TOKENS
    )


@dataclass(frozen=True)
class WorstCase:
    input_tokens: int
    output_tokens: int
    cost_nanos: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def worst_case(spec: ModelSpec, texts: Sequence[str], max_tokens: int) -> WorstCase:
    input_tokens = input_token_upper_bound(texts)
    return WorstCase(
        input_tokens=input_tokens,
        output_tokens=max_tokens,
        cost_nanos=spec.cost_nanos(input_tokens, max_tokens),
    )
