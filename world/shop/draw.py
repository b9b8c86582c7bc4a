"""The MySQL shop's tables: customers, orders with their items, and payments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from world import names
from world.draws import (
    US_PER_DAY,
    US_PER_S,
    Defect,
    break_email,
    mask_null,
    money_sql,
    pick,
    ts_array,
    vary_email,
)
from world.shop.orders import OrderDraws


class ShopDraws(OrderDraws):
    # -- shop ----------------------------------------------------------------------------
    def customers(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.customers
        ids = np.arange(1, n + 1)
        first_idx = rng.integers(0, len(names.FIRST_NAMES), n)
        last_idx = rng.integers(0, len(names.LAST_NAMES), n)
        dom_idx = rng.integers(0, len(names.EMAIL_DOMAINS), n)
        weights = np.array([c[2] for c in names.COUNTRIES])
        country_idx = rng.choice(len(names.COUNTRIES), n, p=weights / weights.sum())
        city_pick = rng.integers(0, 1_000, n)
        first = [names.FIRST_NAMES[i] for i in first_idx]
        last = [names.LAST_NAMES[i] for i in last_idx]
        email: list[str | None] = [
            f"{f.lower()}.{la.lower().replace(' ', '').replace(chr(39), '')}{i}@{names.EMAIL_DOMAINS[d]}"
            for f, la, i, d in zip(first, last, ids, dom_idx, strict=True)
        ]
        created = self.as_of - rng.integers(7 * US_PER_DAY, 3 * 365 * US_PER_DAY, n)
        updated = created + (rng.random(n) * (self.as_of - 60 * US_PER_S - created)).astype("int64")

        # Duplicate accounts: the shop compared emails case-sensitively, so the same person
        # signed up again with different case or stray whitespace.
        dup = self.choose_mask(n, cfg.rates.duplicate_customer_email, eligible=ids > n // 10)
        originals = rng.integers(0, n // 10, n)
        for i in np.flatnonzero(dup):
            o = int(originals[i])
            first[i], last[i], country_idx[i] = first[o], last[o], country_idx[o]
            base = email[o]
            assert base is not None
            email[i] = vary_email(base, rng)
            created[i] = max(int(created[i]), int(created[o]) + US_PER_DAY)
            updated[i] = max(int(updated[i]), int(created[i]))
        invalid = self.choose_mask(n, cfg.rates.invalid_customer_email, eligible=~dup)
        for i in np.flatnonzero(invalid):
            email[i] = break_email(email[i] or "x@example.com", int(rng.integers(0, 4)))
        null_country = self.choose_mask(n, cfg.rates.null_country)
        deleted = self.choose_mask(n, cfg.rates.soft_deleted_customer, eligible=~(dup | invalid))
        deleted_at = np.where(
            deleted, updated + rng.integers(US_PER_S, 20 * US_PER_DAY, n), 0
        ).clip(max=self.as_of - US_PER_S)
        updated = np.where(deleted, deleted_at, updated)

        countries = [names.COUNTRIES[c] for c in country_idx]
        city = [c[3][p % len(c[3])] for c, p in zip(countries, city_pick, strict=True)]
        phone = [f"+1-555-{int(x):07d}" for x in rng.integers(0, 10_000_000, n)]
        phone_null = rng.random(n) < 0.2
        for i in np.flatnonzero(deleted):  # forgotten: PII blanked
            email[i], first[i], last[i], city[i] = None, "", "", ""
            phone_null[i] = True
        self.customer_created = created
        self.customer_currency = np.array([names.CURRENCIES.index(c[1]) for c in countries])
        self.customer_email = email
        self.customer_first, self.customer_last = first, last
        self.customer_deleted = deleted
        self.customer_dup_or_invalid = dup | invalid
        self.register(
            "customers",
            pa.table(
                {
                    "customer_id": pa.array(ids, pa.int64()),
                    "email": pa.array(email, pa.string()),
                    "first_name": first,
                    "last_name": last,
                    "phone": mask_null(pa.array(phone), phone_null),
                    "country_code": mask_null(pa.array([c[0] for c in countries]), null_country),
                    "city": mask_null(pa.array(city), deleted),
                    "marketing_opt_in": pa.array(rng.random(n) < 0.6),
                    "created_at": ts_array(created),
                    "updated_at": ts_array(updated),
                    "deleted_at": mask_null(ts_array(deleted_at), ~deleted),
                }
            ),
        )
        self.db.execute("create table shop_customers as select * from _customers_arrow")
        self.defects += [
            Defect("duplicate_customer_email", "shop.customers", int(dup.sum()), n),
            Defect("invalid_customer_email", "shop.customers", int(invalid.sum()), n),
            Defect("null_country", "shop.customers", int(null_country.sum()), n),
            Defect("soft_deleted_customer", "shop.customers", int(deleted.sum()), n),
        ]

    def payments(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.orders
        st = self.order_status
        pending = st == names.ORDER_STATUSES.index("pending")
        has_payment = ~pending | (rng.random(n) < 0.4)
        extra_failed = has_payment & (rng.random(n) < 0.04)
        final_status = np.select(
            [
                pending,
                np.isin(st, [1, 2, 3]),
                st == names.ORDER_STATUSES.index("refunded"),
                st == names.ORDER_STATUSES.index("cancelled"),
            ],
            [0, 1, 3, np.where(rng.random(n) < 0.5, 2, 3)],
        )
        # Payment rows in order-id order: optional failed attempt, then the final payment.
        counts = extra_failed.astype(int) + has_payment.astype(int)
        p_order = np.repeat(np.arange(n), counts)
        first_of_pair = np.zeros(len(p_order), dtype=bool)
        starts = np.cumsum(counts) - counts
        first_of_pair[starts[extra_failed]] = True
        status = np.where(first_of_pair, 2, final_status[p_order])
        k = len(p_order)
        method = rng.choice(4, k, p=[0.6, 0.25, 0.05, 0.1])
        placed = self.order_placed[p_order]
        processed = placed + rng.integers(1, 600, k) * US_PER_S
        processed = processed - processed % US_PER_S  # DATETIME without fraction
        processed = np.where(first_of_pair, processed - 60 * US_PER_S, processed)
        authorized = status == 0
        updated = np.where(
            status == 3, np.maximum(self.order_updated[p_order], processed), processed
        )
        updated = np.minimum(np.where(authorized, placed, updated), self.as_of - US_PER_S)
        updated = np.maximum(updated, np.minimum(placed, self.as_of - US_PER_S))
        legacy = (self.as_of - placed > 365 * US_PER_DAY) & ~authorized
        zero = self.choose_mask(k, cfg.rates.zero_processed_at, eligible=legacy)
        processed_text = pa.compute.strftime(
            ts_array(processed), format="%Y-%m-%d %H:%M:%S"
        ).to_numpy(zero_copy_only=False)
        processed_col = pa.array(
            [
                None if a else ("0000-00-00 00:00:00" if z else t)
                for a, z, t in zip(authorized, zero, processed_text, strict=True)
            ],
            pa.string(),
        )
        self.register(
            "payments",
            pa.table(
                {
                    "payment_id": pa.array(np.arange(1, k + 1), pa.int64()),
                    "order_id": pa.array(p_order + 1, pa.int64()),
                    "method": pick(names.PAYMENT_METHODS, method),
                    "status": pick(names.PAYMENT_STATUSES, status),
                    "amount_c": self.order_total[p_order],
                    "currency": pick(names.CURRENCIES, self.order_currency[p_order]),
                    "processed_at": processed_col,
                    "updated_at": ts_array(updated),
                }
            ),
        )
        self.db.execute(
            f"""create table shop_payments as
            select payment_id, order_id, method, status, {money_sql("amount_c")} as amount,
                currency, processed_at, updated_at
            from _payments_arrow"""
        )
        self.defects.append(Defect("zero_processed_at", "shop.payments", int(zero.sum()), k))
