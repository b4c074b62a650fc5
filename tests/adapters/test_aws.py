"""LazyClient: a class's injected client, or a default one made on first use, against moto over HTTP."""

from __future__ import annotations

from typing import Any

from cost_sentry.adapters.aws import LazyClient


class NeedsSts:
    sts_client = LazyClient("sts")

    def __init__(self, sts_client: Any = None) -> None:
        self.sts_client = sts_client


def test_an_injected_client_is_the_one_used() -> None:
    given = object()

    assert NeedsSts(given).sts_client is given


def test_without_one_a_default_client_is_made_on_first_use_and_kept(aws_endpoint_env: str) -> None:
    # Given an instance given no client
    holder = NeedsSts()
    assert holder.__dict__ == {"_sts_client": None}  # nothing is made before it is needed

    # When the client is read twice
    first = holder.sts_client
    second = holder.sts_client

    # Then it is one client of the service, on the SDK's standard endpoint setting (moto here)
    assert first is second
    assert first.meta.service_model.service_name == "sts"
    assert first.get_caller_identity()["Account"] == "123456789012"
    # And another instance makes its own
    assert NeedsSts().sts_client is not first


def test_the_descriptor_itself_is_what_the_class_holds() -> None:
    descriptor = NeedsSts.__dict__["sts_client"]

    assert isinstance(descriptor, LazyClient)
    assert NeedsSts.sts_client is descriptor
    assert descriptor.service == "sts"
