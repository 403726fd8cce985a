"""`tidings dev --sandbox-faults` takes CRM items beside platform items: the CRM ones go to the fake
vendor server as fault rates, the rest stay a platform spec; a malformed CRM item is refused."""

from __future__ import annotations

import pytest

from infra.local.fakes.vendors import FakeVendorServer, split_fault_spec


def test_crm_items_are_split_from_platform_items() -> None:
    platforms, crm = split_fault_spec(
        "facebook:error500:0.3, hubspot:lost_response:0.2,x:timeout:1,Custom:rate_limit:0"
    )
    assert platforms == "facebook:error500:0.3,x:timeout:1"
    assert crm == [("hubspot", "lost_response", 0.2), ("custom", "rate_limit", 0.0)]


def test_an_empty_spec_has_no_faults() -> None:
    assert split_fault_spec("") == ("", [])


@pytest.mark.parametrize(
    "spec",
    ["hubspot:error500", "salesforce:melt:0.2", "followupboss:timeout:lots", "hubspot:error500:1.5"],
)
def test_a_malformed_crm_item_is_refused_with_its_text(spec: str) -> None:
    with pytest.raises(ValueError, match="fault") as raised:
        split_fault_spec(spec)
    assert spec.split(":")[0] in str(raised.value)


def test_a_certain_fault_rate_fails_every_call_and_clearing_ends_it() -> None:
    fake = FakeVendorServer(seed=7)
    fake.add_fault_rate("hubspot", "error500", 1.0)
    assert all(fake.take_fault("hubspot") is not None for _ in range(20))
    assert fake.take_fault("followupboss") is None
    fake.clear_faults()
    assert fake.take_fault("hubspot") is None


def test_an_outage_fails_every_call_until_it_ends() -> None:
    fake = FakeVendorServer()
    fake.go_down("salesforce", 60)
    fault = fake.take_fault("salesforce")
    assert fault is not None
    assert fault.kind == "error500"
    assert fake.take_fault("hubspot") is None
    with pytest.raises(ValueError, match="seconds"):
        fake.go_down("salesforce", 0)
