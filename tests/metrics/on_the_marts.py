"""How plain SQL on the marts answers each metric (tests/metrics/test_metrics.py compares
MetricFlow's answers with these): `select <value> from <relation>`, grouped by the metric's
day and its main dimension."""

from __future__ import annotations

import dataclasses

VALID_ORDERS = "marts.fct_orders where is_valid_order"
LINES = (
    "marts.fct_order_items as items inner join marts.fct_orders as orders"
    " on items.order_id = orders.order_id"
)
SENDS = "marts.fct_email_sends"


@dataclasses.dataclass(frozen=True)
class OnTheMarts:
    """How plain SQL on the marts answers a metric: `select <value> from <relation>`, grouped by
    `<day>` (metric_time__day) and `<dim>` (MetricFlow's `by`)."""

    relation: str
    value: str
    by: str | None
    dim: str | None
    day: str | None


ORDER_DIMS = {"by": "order__channel", "dim": "channel", "day": "order_date"}
LINE_DIMS = {"by": "order__channel", "dim": "orders.channel", "day": "items.order_date"}
CUSTOMER_DIMS = {
    "by": "customer__customer_segment",
    "dim": "customer_segment",
    "day": "cast(first_order_at as date)",
}
SEND_DIMS = {"by": "campaign", "dim": "campaign_id", "day": "sent_date"}
STOCK_DIMS = {
    "by": "product__top_category_name",
    "dim": "top_category_name",
    "day": "stock_as_of_date",
}


def ratio(numerator: str, denominator: str) -> str:
    return f"cast({numerator} as double) / nullif({denominator}, 0)"


MARTS: dict[str, OnTheMarts] = {
    "valid_orders": OnTheMarts(VALID_ORDERS, "count(*)", **ORDER_DIMS),
    "orders_placed": OnTheMarts("marts.fct_orders", "count(*)", **ORDER_DIMS),
    "net_revenue_usd": OnTheMarts(VALID_ORDERS, "sum(net_revenue_usd)", **ORDER_DIMS),
    "average_order_value_usd": OnTheMarts(
        VALID_ORDERS, ratio("sum(net_revenue_usd)", "count(*)"), **ORDER_DIMS
    ),
    "discount_usd": OnTheMarts(VALID_ORDERS, "sum(discount_usd)", **ORDER_DIMS),
    "units_sold": OnTheMarts(VALID_ORDERS, "sum(item_count)", **ORDER_DIMS),
    "ordering_customers": OnTheMarts(VALID_ORDERS, "count(distinct customer_id)", **ORDER_DIMS),
    "net_revenue_per_ordering_customer_usd": OnTheMarts(
        VALID_ORDERS,
        ratio(
            "sum(case when customer_id is not null then net_revenue_usd end)",
            "count(distinct customer_id)",
        ),
        **ORDER_DIMS,
    ),
    "attributed_orders": OnTheMarts(
        f"{VALID_ORDERS} and campaign_id is not null", "count(*)", **ORDER_DIMS
    ),
    "attributed_revenue_usd": OnTheMarts(
        f"{VALID_ORDERS} and campaign_id is not null", "sum(net_revenue_usd)", **ORDER_DIMS
    ),
    "order_lines": OnTheMarts(LINES, "count(*)", **LINE_DIMS),
    "quarantined_order_lines": OnTheMarts(
        LINES, "count(case when items.is_quarantined then 1 end)", **LINE_DIMS
    ),
    "quarantined_order_line_share": OnTheMarts(
        LINES, ratio("count(case when items.is_quarantined then 1 end)", "count(*)"), **LINE_DIMS
    ),
    "new_customers": OnTheMarts(
        "marts.dim_customers",
        "sum(case when first_order_at is not null then 1 else 0 end)",
        **CUSTOMER_DIMS,
    ),
    "repeat_customers": OnTheMarts(
        "marts.dim_customers",
        "sum(case when lifetime_valid_orders >= 2 then 1 else 0 end)",
        **CUSTOMER_DIMS,
    ),
    "repeat_purchase_rate": OnTheMarts(
        "marts.dim_customers",
        ratio(
            "sum(case when lifetime_valid_orders >= 2 then 1 else 0 end)",
            "sum(case when first_order_at is not null then 1 else 0 end)",
        ),
        **CUSTOMER_DIMS,
    ),
    "customer_accounts_opened": OnTheMarts(
        "marts.dim_customers", "count(*)", **{**CUSTOMER_DIMS, "day": "cast(created_at as date)"}
    ),
    "emails_sent": OnTheMarts(SENDS, "sum(sent_events)", **SEND_DIMS),
    "emails_delivered": OnTheMarts(SENDS, "sum(delivered_events)", **SEND_DIMS),
    "emails_bounced": OnTheMarts(SENDS, "sum(bounce_events)", **SEND_DIMS),
    "unique_opens": OnTheMarts(SENDS, "count(case when is_opened then 1 end)", **SEND_DIMS),
    "unique_clicks": OnTheMarts(SENDS, "count(case when is_clicked then 1 end)", **SEND_DIMS),
    "unsubscribes": OnTheMarts(SENDS, "sum(unsubscribes)", **SEND_DIMS),
    "open_rate": OnTheMarts(
        SENDS, ratio("count(case when is_opened then 1 end)", "sum(delivered_events)"), **SEND_DIMS
    ),
    "click_rate": OnTheMarts(
        SENDS, ratio("count(case when is_clicked then 1 end)", "sum(delivered_events)"), **SEND_DIMS
    ),
    "bounce_rate": OnTheMarts(SENDS, ratio("sum(bounce_events)", "sum(sent_events)"), **SEND_DIMS),
    "campaign_budget_usd": OnTheMarts(
        "marts.fct_campaign_performance",
        "sum(case when budget_usd > 0 then budget_usd end)",
        by="campaign__campaign_status",
        dim="campaign_status",
        day="started_on",
    ),
    # Revenue counts on the order's day and budget on the campaign's start: per campaign and in
    # total only (see the metric's description).
    "return_on_campaign_budget": OnTheMarts(
        """(select campaign_id, net_revenue_usd, null as budget_usd
            from marts.fct_orders where is_valid_order and campaign_id is not null
            union all
            select campaign_id, null, case when budget_usd > 0 then budget_usd end
            from marts.fct_campaign_performance) as revenue_and_budget""",
        ratio("sum(net_revenue_usd)", "sum(budget_usd)"),
        by="campaign",
        dim="campaign_id",
        day=None,
    ),
    "products_low_stock": OnTheMarts(
        "marts.dim_products",
        "sum(case when is_active and quantity_on_hand between 1 and 10 then 1 else 0 end)",
        **STOCK_DIMS,
    ),
    "price_changes": OnTheMarts(
        "marts.dim_product_price_history",
        "sum(case when previous_list_price is not null and list_price <> previous_list_price"
        " then 1 else 0 end)",
        by="product",
        dim="product_id",
        day="cast(valid_from as date)",
    ),
    "net_revenue_in_order_currency": OnTheMarts(
        VALID_ORDERS,
        "sum(subtotal - discount_amount)",
        by="order__currency",
        dim="currency",
        day="order_date",
    ),
    "customers": OnTheMarts(
        "marts.dim_customers", "count(*)", **{**CUSTOMER_DIMS, "day": "cast(created_at as date)"}
    ),
    # Ordering customers (on their orders' days) minus new customers (on their first's).
    "returning_customers": OnTheMarts(
        """(select order_date as day, customer_id, 'ordering' as kind
            from marts.fct_orders where is_valid_order
            union all
            select cast(first_order_at as date), customer_id,
                   case when first_order_at is not null then 'new' end
            from marts.dim_customers) as customer_days""",
        "count(distinct case when kind = 'ordering' then customer_id end)"
        " - count(case when kind = 'new' then 1 end)",
        by=None,
        dim=None,
        day="day",
    ),
    "stock_on_hand": OnTheMarts("marts.dim_products", "sum(quantity_on_hand)", **STOCK_DIMS),
    "stock_available": OnTheMarts("marts.dim_products", "sum(quantity_available)", **STOCK_DIMS),
    "products_out_of_stock": OnTheMarts(
        "marts.dim_products",
        "sum(case when is_active and not is_in_stock then 1 else 0 end)",
        **STOCK_DIMS,
    ),
}
