"""HubSpot's API semantics, apart from the HTTP server and the rate limiter: each endpoint
answers a parsed request (method, path, query, JSON body) with HubSpot's JSON, or raises
ApiError with HubSpot's error body."""

from __future__ import annotations

import re
from typing import Any

from world.hubspot.api.common import ApiError, object_type_id
from world.hubspot.api.crm import CrmApi
from world.hubspot.api.marketing import MarketingApi

__all__ = ["ApiError", "HubSpotApi"]


class HubSpotApi(CrmApi, MarketingApi):
    """Every endpoint, routed by HubSpot's paths."""

    def route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Any:
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)", path)
        if m and method == "GET":
            return self.list_objects(object_type_id(m[1]), query)
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/search", path)
        if m and method == "POST":
            return self.search_objects(object_type_id(m[1]), body or {})
        m = re.fullmatch(r"/crm/v3/objects/([^/]+)/(\d+)", path)
        if m and method == "GET":
            return self.read_object(object_type_id(m[1]), int(m[2]), query)
        m = re.fullmatch(r"/crm/v3/properties/([^/]+)", path)
        if m and method == "GET":
            return self.list_properties(object_type_id(m[1]))
        m = re.fullmatch(r"/crm/v4/associations/([^/]+)/([^/]+)/batch/read", path)
        if m and method == "POST":
            return self.batch_associations(object_type_id(m[1]), object_type_id(m[2]), body or {})
        if path in ("/marketing/v3/campaigns", "/marketing/v3/campaigns/") and method == "GET":
            return self.list_campaigns(query)
        if path == "/marketing/v3/emails" and method == "GET":
            return self.list_marketing_emails(query)
        if path == "/email/public/v1/events" and method == "GET":
            return self.list_email_events(query)
        raise ApiError(404, "OBJECT_NOT_FOUND", f"No route for {method} {path}")
