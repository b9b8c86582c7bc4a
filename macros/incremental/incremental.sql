{#
    The CTE `last_build` of an incremental model: when its newest rows were built (`built_at`,
    from `_built_at`) and, with `clock`, the clock they were computed with (`as_of`, from
    `_as_of`); 1900-01-01 when the table is empty.
#}
{% macro last_build_cte(clock=false) -%}
last_build as (

    select
        {{ newest_built_at_or_epoch('_built_at') }} as built_at
        {%- if clock %},
        {{ newest_built_at_or_epoch('_as_of') }} as as_of
        {%- endif %}
    from {{ this }}

)
{%- endmacro %}

{# `max(column)` of the rows in scope, or 1900-01-01 when there are none: a watermark. #}
{% macro newest_built_at_or_epoch(column) -%}
    coalesce(max({{ column }}), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
{%- endmacro %}

{# A scalar subquery: the newest `_built_at` of `relation` (1900-01-01 when it is empty). #}
{% macro last_built_at(relation) -%}
    (select {{ newest_built_at_or_epoch('_built_at') }} from {{ relation }})
{%- endmacro %}


{#
    CTEs naming the orders an incremental fact must rebuild, ending with `changed_orders`:
    - orders whose own row, items or payments staging rewrote since the fact's last build
      (staging stamps what it writes with _built_at): exact, however late the load;
    - orders invalid at the last build and placed at most `incremental_lookback_days` before
      it, among them every order that was in the future then: their validity moves with the
      clock (the lookback covers a build whose as_of clock ran behind the wall clock);
    - with `campaigns`, orders whose utm_campaign now names another campaign than the one the
      fact holds for it (a campaign's utm changed, a campaign came or went).
    All of it follows the change, not history, but for the distinct (utm, campaign) pairs the
    fact holds. Hard-deleted orders are removed by the facts' pre-hooks.
#}
{% macro changed_orders_ctes(campaigns=false) -%}
{{ last_build_cte() }},

{%- if campaigns %}

moved_utms as (

    select coalesce(held.utm_campaign_normalized, now.utm_campaign_normalized) as utm
    from (
        -- The fact's own utm, normalised as staging does (lower of the trimmed, non-empty
        -- value): no join of the whole fact with the whole orders' staging.
        select distinct
            lower(facts.utm_campaign) as utm_campaign_normalized,
            facts.campaign_id
        from {{ this }} as facts
        where facts.utm_campaign is not null
    ) as held
    full outer join {{ ref('int_campaigns_keyed_by_utm') }} as now
        on held.utm_campaign_normalized = now.utm_campaign_normalized
    where held.campaign_id is distinct from now.campaign_id

),
{%- endif %}

changed_orders as (

    {{ orders_rewritten_since_last_build() }}

    union

    select held.order_id
    from {{ this }} as held
    cross join last_build
    where not held.is_valid_order
        and held.order_date >= cast({{ dbt.dateadd('day', -var('incremental_lookback_days'), 'last_build.built_at') }} as date)
    {%- if campaigns %}

    union

    select orders.order_id
    from {{ ref('stg_shop__orders') }} as orders
    where orders.utm_campaign_normalized in (select moved_utms.utm from moved_utms)
    {%- endif %}

)
{%- endmacro %}


{#
    The orders whose own row, items or payments staging rewrote since the model's last build
    (a `union` of order_id; needs the CTE last_build).
#}
{% macro orders_rewritten_since_last_build() -%}
    {%- for model in ['stg_shop__orders', 'stg_shop__order_items', 'stg_shop__payments'] %}
    {%- if not loop.first %}

    union
    {%- endif %}

    select changed.order_id
    from {{ ref(model) }} as changed
    cross join last_build
    where changed._built_at > last_build.built_at
    {%- endfor %}
{%- endmacro %}


{#
    In an incremental run, keep only the changed orders' rows (a `where` for an import CTE,
    so that every input is narrowed before the joins); nothing in a full build.
#}
{% macro only_changed_orders(column='order_id') -%}
    {%- if is_incremental() %}
    where {{ column }} in (select changed_orders.order_id from changed_orders)
    {%- endif %}
{%- endmacro %}
