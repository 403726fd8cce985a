"""Who a campaign goes to when it is scheduled: a CRM segment read into recipients, and the CRM
preference time zones of recipients who did not bring their own.

**Segments** are read from the contacts the CRM integration's periodic sync brought in
(`tidings.integrations.sync`, kept as `SYNCED#<integrationId>#contact#<id>` records), not from the
CRM itself: one query of the table instead of thousands of CRM calls under the API's 30 seconds, and
no CRM rate limit spent. So a segment is as fresh as the integration's last sync (start a sync before
scheduling to include contacts added since). A contact is in the segment when it has a valid e-mail
address, carries every tag the segment names (case-insensitive; Follow Up Boss contacts have tags,
HubSpot and Salesforce contacts synced by Tidings have none, so a tag filter leaves them out) and has
the segment's lifecycle stage, when one is named (case-insensitive; HubSpot's `lifecyclestage`,
Follow Up Boss's `stage`). Addresses are checked and normalised as a recipient list's are
(`tidings.campaigns.recipients`); a second contact with an address already taken is merged into the
first. Each recipient keeps the contact's CRM id as its
client id, for personalisation and write-back.

**CRM time zones**: a recipient with a client id and no time zone of their own is timed in the zone
of their CRM record's preferences, read through the client cache (`tidings.crm.clients`). Reads run
side by side within a budget (LOOKUP_BUDGET_SECONDS, at most MAX_LOOKUPS clients): a client the CRM
could not answer for in that time, or whose record names no zone, is timed in the campaign's zone,
and the schedule's answer counts how many recipients got their zone from where.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Protocol

from tidings.campaigns.recipients import normalise_email
from tidings.core.errors import TidingsError, ValidationFailed
from tidings.models.campaigns import MAX_RECIPIENTS, Recipient, Segment

if TYPE_CHECKING:
    from tidings.crm.clients import ClientDirectory
    from tidings.integrations.directory import IntegrationDirectory
    from tidings.store.synced import SyncedRecordRepository

logger = logging.getLogger(__name__)

CONTACT = "contact"
LOOKUP_BUDGET_SECONDS = 10.0
MAX_LOOKUPS = 2_000
LOOKUP_WORKERS = 8


def normal_address(raw: Any) -> str | None:
    """The address as recipients keep it (`recipients.normalise_email`: trimmed, domain lower-cased),
    or None when it is not one SES could send to."""
    if not isinstance(raw, str):
        return None
    try:
        return normalise_email(raw)
    except ValueError:
        return None


def _folded(values: Iterable[Any]) -> set[str]:
    return {str(v).strip().casefold() for v in values if str(v).strip()}


def in_segment(attributes: dict[str, Any], segment: Segment) -> bool:
    tags = attributes.get("tags")
    if segment.tags and not _folded(segment.tags) <= _folded(tags if isinstance(tags, list) else []):
        return False
    if segment.lifecycle_stage is None:
        return True
    stage = attributes.get("lifecycleStage")
    return isinstance(stage, str) and stage.strip().casefold() == segment.lifecycle_stage.strip().casefold()


class SegmentReader(Protocol):
    def recipients(self, user_id: str, segment: Segment) -> list[Recipient]:
        """The segment's recipients, by address; 4xx errors name what is wrong with the segment."""
        ...


class SyncedSegment:
    """A segment read from the contacts the CRM integration's sync stored (see the module's notes)."""

    def __init__(self, directory: IntegrationDirectory, synced: SyncedRecordRepository) -> None:
        self.directory = directory
        self.synced = synced

    def recipients(self, user_id: str, segment: Segment) -> list[Recipient]:
        integration = self.directory.get(user_id, segment.integration_id)  # 404 integration_not_found
        if integration.type != "crm":
            raise ValidationFailed(
                f"the segment's integration is a {integration.type} integration, not a CRM",
                {"integrationId": segment.integration_id, "type": integration.type},
                code="segment_not_crm",
            )
        found: dict[str, Recipient] = {}
        for record in self.synced.of_kind(user_id, segment.integration_id, CONTACT):
            attributes = dict(record.attributes)
            address = normal_address(attributes.get("email"))
            if address is None or address in found or not in_segment(attributes, segment):
                continue
            found[address] = Recipient(
                email=address,
                first_name=_text(attributes.get("firstName")),
                last_name=_text(attributes.get("lastName")),
                client_id=record.key,
            )
            if len(found) > MAX_RECIPIENTS:
                raise ValidationFailed(
                    f"the segment holds more than {MAX_RECIPIENTS} recipients, the most a campaign "
                    "sends to: narrow it with tags or a lifecycle stage",
                    {"limit": MAX_RECIPIENTS},
                    code="too_many_recipients",
                )
        return [found[address] for address in sorted(found)]


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class ClientZones(Protocol):
    def zones(self, user_id: str, client_ids: Sequence[str], integration_id: str | None) -> dict[str, str]:
        """The preference time zone of those clients the CRM answered for (in time), by client id;
        a client that could not be read or names no zone is left out."""
        ...


class CrmClientZones:
    """CRM preference zones read through the client directory (and its cache), side by side."""

    def __init__(
        self,
        directory: ClientDirectory,
        pool: ThreadPoolExecutor | None = None,
        budget_seconds: float = LOOKUP_BUDGET_SECONDS,
        max_lookups: int = MAX_LOOKUPS,
    ) -> None:
        self.directory = directory
        self.pool = pool or ThreadPoolExecutor(max_workers=LOOKUP_WORKERS, thread_name_prefix="client-zones")
        self.budget_seconds = budget_seconds
        self.max_lookups = max_lookups

    def _zone(self, user_id: str, client_id: str, integration_id: str | None) -> str | None:
        try:
            found = self.directory.get(user_id, client_id, integration_id=integration_id)
        except TidingsError as exc:  # not found, CRM down, no CRM: the campaign's zone it is
            logger.info("no CRM time zone for client %s: %s", client_id, exc.code)
            return None
        return found.record.preferences.timezone

    def zones(self, user_id: str, client_ids: Sequence[str], integration_id: str | None) -> dict[str, str]:
        unique = list(dict.fromkeys(client_ids))[: self.max_lookups]
        if not unique:
            return {}
        futures: dict[Future[str | None], str] = {
            self.pool.submit(self._zone, user_id, cid, integration_id): cid for cid in unique
        }
        done, pending = wait(futures, timeout=self.budget_seconds)
        for late in pending:
            late.cancel()
        if pending:
            logger.warning("%d CRM time zones not read within %.0f s", len(pending), self.budget_seconds)
        zones: dict[str, str] = {}
        for future in done:
            if future.exception() is not None:
                logger.error("reading a CRM time zone failed", exc_info=future.exception())
                continue
            zone = future.result()
            if zone:
                zones[futures[future]] = zone
        return zones
