{#
    dbt's test materialization, storing a test's failing rows only when it has some.

    dbt's own creates a table in test_failures for every test (store_failures), passing or not,
    then counts its rows: a drop and a create per test, each a commit, and on Snowflake each a
    remote statement. A second build of the quickstart's warehouse took 34.0 s with them and
    22.1 s without while other processes shared the disk (16.0 s and 15.2 s on an idle
    machine); the emulated Snowflake build of the suite's world 142 s and 97 s. Here the
    test's count runs first, as dbt's does without storing; a test that finds failing rows
    then stores them (its query runs a second time, for the few tests that fail), and a test
    that passes drops the table an earlier failure left. test_failures holds the failing rows
    of the tests that fail now, and nothing else. dbt-snowflake's test materialization calls
    this one (materialization_test_default), with its query tag around it.
#}
{%- materialization test, default -%}

    {% set relations = [] %}
    {% set limit = config.get('limit') %}
    {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}
    {% set sql_with_limit %}
        {{ get_limit_subquery_sql(sql, limit) }}
    {% endset %}

    {% call statement('main', fetch_result=True) -%}
        {% if sql_header %}{{ sql_header }}{% endif %}
        {{ get_test_sql(sql_with_limit, config.get('fail_calc'), config.get('warn_if'), config.get('error_if'), limit=none) }}
    {%- endcall %}

    {% if should_store_failures() %}
        {% set store_failures_as = config.get('store_failures_as') or 'table' %}
        {% if store_failures_as not in ['table', 'view'] %}
            {{ exceptions.raise_compiler_error(
                "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
                "Accepted values are: ['ephemeral', 'table', 'view']"
            ) }}
        {% endif %}
        {% set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) %}
        {% if old_relation %}
            {% do adapter.drop_relation(old_relation) %}
        {% endif %}
        {# The first column, `failures` (FAILURES on Snowflake). #}
        {% if load_result('main')['table'].rows[0][0] %}
            {% set target_relation = api.Relation.create(
                identifier=model['alias'], schema=schema, database=database, type=store_failures_as) %}
            {% call statement('store_failures', auto_begin=True) %}
                {% if sql_header %}{{ sql_header }}{% endif %}
                {{ get_create_sql(target_relation, sql_with_limit) }}
            {% endcall %}
            {% do relations.append(target_relation) %}
        {% endif %}
        {{ adapter.commit() }}
    {% endif %}

    {{ return({'relations': relations}) }}

{%- endmaterialization -%}
