{#
    Drop every schema whose name starts with `prefix` (a pull request's pr_123_*), with what
    it holds: `dbt run-operation drop_schemas_with_prefix --args '{prefix: pr_123}'`.
    Refuses prefixes that could match production schemas.
#}
{% macro drop_schemas_with_prefix(prefix, dry_run=false) -%}
    {%- set prefix = prefix | trim | lower -%}
    {%- if not modules.re.match('^pr_[0-9a-z_]+$', prefix) -%}
        {{ exceptions.raise_compiler_error("drop_schemas_with_prefix: '" ~ prefix ~ "' is not a pull-request prefix (pr_<number>)") }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- if execute -%}
        {#- pr_1 must not match pr_10's schemas: the prefix itself, or the prefix and '_'. -#}
        {%- set listed = list_schemas(target.database) -%}
        {#- Snowflake's `show schemas` names the column `name`; information_schema, schema_name. -#}
        {%- set column = 'name' if 'name' in listed.column_names else listed.column_names[0] -%}
        {%- for schema in listed.columns[column].values() -%}
            {%- if schema | lower == prefix or (schema | lower).startswith(prefix ~ '_') -%}
                {%- do schemas.append(schema) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for schema in schemas -%}
        {%- set relation = api.Relation.create(database=target.database, schema=schema) -%}
        {{ log(("would drop " if dry_run else "dropping ") ~ relation, info=true) }}
        {%- if not dry_run -%}
            {%- do adapter.drop_schema(relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ log(schemas | length ~ " schema(s) with prefix " ~ prefix, info=true) }}
{%- endmacro %}
