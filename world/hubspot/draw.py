"""HubSpot's CRM objects: contacts, companies and deals with their associations (campaigns,
marketing emails and email events: world/hubspot/marketing.py)."""

from __future__ import annotations

import json

import numpy as np

from world import names
from world.draws import (
    US_PER_DAY,
    US_PER_S,
    Defect,
    hubspot_iso,
    vary_email,
)
from world.hubspot.marketing import MarketingDraws


class HubSpotDraws(MarketingDraws):
    # -- hubspot -------------------------------------------------------------------------
    def hubspot(self) -> None:
        emails, firsts, lasts, created_arr, is_customer, base_n = self._contact_people()
        created_arr, dup_src, n_dup = self._duplicate_contacts(
            emails, firsts, lasts, created_arr, is_customer, base_n
        )
        contact_rows, ids = self._contact_rows(
            emails, firsts, lasts, created_arr, is_customer, base_n, dup_src, n_dup
        )
        total = len(emails)
        company_rows, contact_company, assoc = self._companies(total, ids)
        deal_rows = self._deals(total, ids, firsts, lasts, created_arr, contact_company, assoc)
        self._insert_rows(
            "hubspot_objects",
            contact_rows + company_rows + deal_rows,
            [
                "object_type",
                "id",
                "properties",
                "created_at",
                "updated_at",
                "archived",
                "archived_at",
            ],
        )
        self._insert_rows(
            "hubspot_associations", assoc, ["from_type", "from_id", "to_type", "to_id"]
        )
        self._campaign_tables()

    def _contact_people(
        self,
    ) -> tuple[list[str | None], list[str], list[str], np.ndarray, list[bool], int]:
        """Contacts before defects: most customers (some emails retyped), then leads."""
        cfg, rng = self.cfg, self.rng
        n_c = cfg.customers
        eligible = np.flatnonzero(~self.customer_deleted & ~self.customer_dup_or_invalid)
        from_customers = rng.choice(eligible, int(len(eligible) * 0.7), replace=False)
        from_customers.sort()
        target = cfg.contacts
        n_leads = int(n_c * 0.3) if target is None else max(0, target - len(from_customers))
        if target is not None and target < len(from_customers):
            from_customers, n_leads = from_customers[:target], 0
        base_n = len(from_customers) + n_leads
        # Contact rows before defects: (email, first, last, created_us, customer_index|-1)
        emails: list[str | None] = []
        firsts: list[str] = []
        lasts: list[str] = []
        created: list[int] = []
        is_customer: list[bool] = []
        variation = rng.random(len(from_customers))
        for ci, v in zip(from_customers, variation, strict=True):
            e = self.customer_email[ci]
            assert e is not None
            emails.append(vary_email(e, rng) if v < 0.25 else e)
            firsts.append(self.customer_first[ci])
            lasts.append(self.customer_last[ci])
            created.append(int(self.customer_created[ci]) + int(rng.integers(-5, 5)) * US_PER_DAY)
            is_customer.append(True)
        lead_first = rng.integers(0, len(names.FIRST_NAMES), n_leads)
        lead_last = rng.integers(0, len(names.LAST_NAMES), n_leads)
        lead_dom = rng.integers(0, len(names.EMAIL_DOMAINS), n_leads)
        lead_created = self.as_of - rng.integers(US_PER_DAY, 3 * 365 * US_PER_DAY, n_leads)
        for j in range(n_leads):
            f, la = names.FIRST_NAMES[lead_first[j]], names.LAST_NAMES[lead_last[j]]
            slug = la.lower().replace(" ", "").replace("'", "")
            emails.append(f"{f.lower()}.{slug}.lead{j + 1}@{names.EMAIL_DOMAINS[lead_dom[j]]}")
            firsts.append(f)
            lasts.append(la)
            created.append(int(lead_created[j]))
            is_customer.append(False)
        created_arr = np.minimum(np.array(created, dtype="int64"), self.as_of - 2 * US_PER_DAY)
        return emails, firsts, lasts, created_arr, is_customer, base_n

    def _duplicate_contacts(
        self,
        emails: list[str | None],
        firsts: list[str],
        lasts: list[str],
        created_arr: np.ndarray,
        is_customer: list[bool],
        base_n: int,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Appends duplicates: a second contact with the same email, possibly varied."""
        cfg, rng = self.cfg, self.rng
        # Duplicates: a second contact with the same email (possibly varied), appended.
        n_dup = round(base_n * cfg.rates.duplicate_contact_email)
        dup_src = rng.choice(base_n, n_dup, replace=False) if n_dup else np.array([], dtype=int)
        for s in dup_src:
            e = emails[s]
            assert e is not None
            emails.append(vary_email(e, rng) if rng.random() < 0.5 else e)
            firsts.append(firsts[s])
            lasts.append(lasts[s])
            dup_created = int(created_arr[s]) + int(rng.integers(1, 200)) * US_PER_DAY
            created_arr = np.append(created_arr, min(dup_created, self.as_of - US_PER_DAY))
            is_customer.append(is_customer[s])
        return created_arr, dup_src, n_dup

    def _contact_rows(
        self,
        emails: list[str | None],
        firsts: list[str],
        lasts: list[str],
        created_arr: np.ndarray,
        is_customer: list[bool],
        base_n: int,
        dup_src: np.ndarray,
        n_dup: int,
    ) -> tuple[list[tuple], np.ndarray]:
        """The contacts' rows, with emails missing, stages, opt-outs and archivals drawn."""
        cfg, rng = self.cfg, self.rng
        total = len(emails)
        # Sources of duplicates keep their email, or the duplicate would stop being one.
        no_email = self.choose_mask(
            total,
            cfg.rates.contact_without_email,
            eligible=(np.arange(total) < base_n) & ~np.isin(np.arange(total), dup_src),
        )
        for missing in np.flatnonzero(no_email):
            emails[missing] = None
        modified = created_arr + (rng.random(total) * (self.as_of - US_PER_S - created_arr)).astype(
            "int64"
        )
        stage_idx = np.where(
            np.array(is_customer) & (rng.random(total) < 0.85),
            names.LIFECYCLE_STAGES.index("customer"),
            rng.integers(0, len(names.LIFECYCLE_STAGES), total),
        )
        optout = rng.random(total) < 0.08
        # Duplicates and their sources stay live, or the duplicate would stop being one.
        archived = self.choose_mask(
            total,
            0.01,
            eligible=~no_email & (np.arange(total) < base_n) & ~np.isin(np.arange(total), dup_src),
        )
        archived_at = np.where(
            archived, modified + rng.integers(US_PER_S, 30 * US_PER_DAY, total), 0
        )
        archived_at = np.minimum(archived_at, self.as_of - US_PER_S)
        ids = 1001 + np.arange(total)
        phones = rng.integers(0, 10_000_000, total)
        contact_rows = []
        for i in range(total):
            props = {
                "email": emails[i],
                "firstname": firsts[i],
                "lastname": lasts[i],
                "phone": f"+1-555-{int(phones[i]):07d}" if phones[i] % 3 else None,
                "lifecyclestage": names.LIFECYCLE_STAGES[stage_idx[i]],
                "hs_email_optout": "true" if optout[i] else "false",
                "createdate": hubspot_iso(created_arr[i]),
                "lastmodifieddate": hubspot_iso(modified[i]),
                "hs_object_id": str(ids[i]),
            }
            contact_rows.append(
                (
                    "contacts",
                    int(ids[i]),
                    json.dumps(props),
                    hubspot_iso(created_arr[i]),
                    hubspot_iso(modified[i]),
                    bool(archived[i]),
                    hubspot_iso(archived_at[i]) if archived[i] else None,
                )
            )
        self.defects += [
            Defect("contact_without_email", "hubspot.contacts", int(no_email.sum()), total),
            Defect("duplicate_contact_email", "hubspot.contacts", n_dup, total),
        ]
        self.contact_ids, self.contact_emails = ids, emails
        self.contact_active = ~archived

        return contact_rows, ids

    def _companies(
        self, total: int, ids: np.ndarray
    ) -> tuple[list[tuple], np.ndarray, list[tuple]]:
        """Companies, each contact optionally working at one (and associated with it)."""
        cfg, rng = self.cfg, self.rng
        # Companies, each contact optionally working at one.
        n_co = max(5, int(total * cfg.companies_per_contact))
        co_ids = 5_000_001 + np.arange(n_co)
        co_created = self.as_of - rng.integers(30 * US_PER_DAY, 4 * 365 * US_PER_DAY, n_co)
        co_modified = co_created + (rng.random(n_co) * (self.as_of - US_PER_S - co_created)).astype(
            "int64"
        )
        company_rows, used_names = [], set()
        for j in range(n_co):
            w1 = names.COMPANY_WORDS[int(rng.integers(0, len(names.COMPANY_WORDS)))]
            w2 = names.COMPANY_SUFFIXES[int(rng.integers(0, len(names.COMPANY_SUFFIXES)))]
            name = f"{w1} {w2}" if f"{w1} {w2}" not in used_names else f"{w1} {w2} {j}"
            used_names.add(name)
            props = {
                "name": name,
                "domain": name.lower().replace(" ", "") + ".example",
                "industry": names.INDUSTRIES[int(rng.integers(0, len(names.INDUSTRIES)))],
                "createdate": hubspot_iso(co_created[j]),
                "hs_lastmodifieddate": hubspot_iso(co_modified[j]),
                "hs_object_id": str(co_ids[j]),
            }
            company_rows.append(
                (
                    "companies",
                    int(co_ids[j]),
                    json.dumps(props),
                    hubspot_iso(co_created[j]),
                    hubspot_iso(co_modified[j]),
                    False,
                    None,
                )
            )
        works_at = rng.random(total) < 0.5
        contact_company = np.where(works_at, rng.choice(co_ids, total), 0)
        assoc = [
            ("contacts", int(ids[i]), "companies", int(contact_company[i]))
            for i in np.flatnonzero(works_at)
        ]
        return company_rows, contact_company, assoc

    def _deals(
        self,
        total: int,
        ids: np.ndarray,
        firsts: list[str],
        lasts: list[str],
        created_arr: np.ndarray,
        contact_company: np.ndarray,
        assoc: list[tuple],
    ) -> list[tuple]:
        """Deals, each with one contact and that contact's company (associations appended)."""
        cfg, rng = self.cfg, self.rng
        # Deals, each with one contact and that contact's company.
        n_deals = max(5, int(total * cfg.deals_per_contact))
        deal_ids = 9_000_001 + np.arange(n_deals)
        deal_contact = rng.choice(total, n_deals)
        deal_created = (
            np.maximum(created_arr[deal_contact], self.as_of - 2 * 365 * US_PER_DAY)
            + rng.integers(0, 30, n_deals) * US_PER_DAY
        )
        deal_created = np.minimum(deal_created, self.as_of - 2 * US_PER_DAY)
        deal_modified = deal_created + (
            rng.random(n_deals) * (self.as_of - US_PER_S - deal_created)
        ).astype("int64")
        stage = rng.integers(0, len(names.DEAL_STAGES), n_deals)
        close = deal_created + rng.integers(7, 120, n_deals) * US_PER_DAY
        amount = rng.integers(500, 500_000, n_deals)
        deal_rows = []
        for j in range(n_deals):
            ci = int(deal_contact[j])
            props = {
                "dealname": f"{firsts[ci]} {lasts[ci]} - wholesale order {j + 1}",
                "amount": f"{amount[j] / 100:.2f}",
                "dealstage": names.DEAL_STAGES[stage[j]],
                "pipeline": "default",
                "closedate": hubspot_iso(close[j]),
                "createdate": hubspot_iso(deal_created[j]),
                "hs_lastmodifieddate": hubspot_iso(deal_modified[j]),
                "hs_object_id": str(deal_ids[j]),
            }
            deal_rows.append(
                (
                    "deals",
                    int(deal_ids[j]),
                    json.dumps(props),
                    hubspot_iso(deal_created[j]),
                    hubspot_iso(deal_modified[j]),
                    False,
                    None,
                )
            )
            assoc.append(("deals", int(deal_ids[j]), "contacts", int(ids[ci])))
            if contact_company[ci]:
                assoc.append(("deals", int(deal_ids[j]), "companies", int(contact_company[ci])))
        return deal_rows
