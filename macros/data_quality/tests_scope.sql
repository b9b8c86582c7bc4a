{#
    What a data test reads. dbt hands every generic test its model through get_where_subquery
    (which applies the test's `where` config); this override also narrows the tests of a model
    that declares `meta: {tested_rows: latest_build}` to the rows its latest build wrote, those
    stamped with that build's `_built_at` (macro built_at).

    An incremental build rewrites the day's rows only, so its tests read the day's rows, not
    history: a row-level test (not_null, accepted_values, a range, a relationship to a complete
    parent) proves on them what it proved on every row before, and `unique` on the model's
    unique_key holds because delete+insert replaced the older rows with that key. A full build
    stamps every row, so it tests every row. What a row-scoped test cannot see (a parent row
    deleted under an older child, a duplicate of a non-key column across days), the weekly run
    with `--vars '{test_history: true}'` does: every test reads every row. A test that must read
    every row each time (`unique` on a column other than the key) says `meta: {tested_rows: all}`.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append(config.get('where')) -%}
    {%- endif -%}
    {%- if latest_build_only(relation) -%}
        {%- do conditions.append(
            '_built_at = (select max(built._built_at) from ' ~ relation ~ ' as built)') -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{# Whether the tests of this relation read its latest build's rows only (see above). #}
{% macro latest_build_only(relation) -%}
    {%- if not execute or var('test_history', false) or relation.identifier is none
        or config.get('meta', {}).get('tested_rows') == 'all' -%}
        {%- do return(false) -%}
    {%- endif -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model'
        and node.alias | lower == relation.identifier | lower
        and node.schema | lower == (relation.schema or '') | lower -%}
        {%- do return(node.config.meta.get('tested_rows') == 'latest_build') -%}
    {%- endfor -%}
    {%- do return(false) -%}
{%- endmacro %}


{#
    The `_built_at` column of a model whose tests read its latest build (meta tested_rows):
    when this dbt invocation started, the same on every row one build writes.
#}
{% macro built_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
