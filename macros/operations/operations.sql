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


{#
    One row per `dbt build` / `dbt run` in dbt_audit.runs (on-run-end): when it started and
    ended, how long it took, and how its nodes ended. The pipeline-health report reads it.
#}
{% macro record_dbt_run(results) -%}
    {%- if execute and flags.WHICH in ('build', 'run') -%}
        {%- set schema = generate_schema_name('dbt_audit', none) -%}
        {%- set relation = api.Relation.create(database=target.database, schema=schema, identifier='runs') -%}
        {%- set statuses = results | map(attribute='status') | map('string') | list -%}
        {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=schema)) -%}
        {%- do run_query(
            "create table if not exists " ~ relation ~ " ("
            ~ "invocation_id varchar, command varchar, target_name varchar, "
            ~ "started_at timestamp, finished_at timestamp, seconds double, "
            ~ "nodes integer, errors integer, warnings integer)"
        ) -%}
        {%- set finished = modules.datetime.datetime.now(modules.pytz.utc) -%}
        {%- set stamp = '%Y-%m-%d %H:%M:%S.%f' -%}
        {%- do run_query(
            "insert into " ~ relation ~ " select '" ~ invocation_id ~ "', '" ~ flags.WHICH ~ "', '"
            ~ target.name ~ "', cast('" ~ run_started_at.strftime(stamp) ~ "' as timestamp), "
            ~ "cast('" ~ finished.strftime(stamp) ~ "' as timestamp), "
            ~ (finished - run_started_at).total_seconds() ~ ", "
            ~ (results | length) ~ ", "
            ~ (statuses | select('in', ['error', 'fail', 'runtime error']) | list | length) ~ ", "
            ~ (statuses | select('equalto', 'warn') | list | length)
        ) -%}
    {%- endif -%}
{%- endmacro %}
