"""The HubSpot resources: what is read from which endpoint, and how it lands in raw_hubspot.

CRM objects (contacts, companies, deals) are read by `loaders.hubspot.crm`; campaigns,
marketing emails and email events by `loaders.hubspot.marketing`; both share the run's
context (`loaders.hubspot.context`). Rows whose version raw already holds (same id and updated
time) are skipped, so a run with no change loads nothing. A first load or a full refresh
writes a table whole, each key once; later runs merge on the primary key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loaders.hubspot.context import HubSpotContext
from loaders.hubspot.crm import crm_resource
from loaders.hubspot.marketing import (
    campaigns_resource,
    email_events_resource,
    marketing_emails_resource,
)

__all__ = ["RESOURCES", "HubSpotContext"]


RESOURCES: dict[str, Callable[[HubSpotContext], Any]] = {
    "contacts": lambda ctx: crm_resource(ctx, "contacts"),
    "companies": lambda ctx: crm_resource(ctx, "companies"),
    "deals": lambda ctx: crm_resource(ctx, "deals"),
    "campaigns": campaigns_resource,
    "marketing_emails": marketing_emails_resource,
    "email_events": email_events_resource,
}
