{#- Helpers of the set-based generic tests (dbt_project/tests/generic): one dbt node, one query and one
    Dagster asset check per model and rule kind instead of one per column. -#}

{#- A value as SQL, keeping its YAML type: 1 is a number, "1" a string, true a boolean. -#}
{% macro ntm_sql_literal(value) -%}
    {%- if value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}

{#- The import CTE `source` of a set-based test: the tested relation read once. On a view (or a `where`
    subquery) read by several branches it is materialized, so the view's joins and windows are computed
    once, not once per rule; on a table it is inlined and each branch scans only its own columns.
    `period_column`: the test checks only the rows of the run's test period (ntm_test_period_scope); `name`:
    the CTE's name (a test with rows of both kinds has two). -#}
{% macro ntm_test_source(model, select_list, branches, period_column=none, name='source') -%}
    {%- set ns = namespace(materialized='view') -%}
    {%- if execute and model.identifier is defined -%}
        {%- for node in graph.nodes.values() -%}
            {%- if node.resource_type in ('model', 'seed', 'snapshot')
                and (node.alias or node.name) == model.identifier and node.schema == model.schema -%}
                {%- set ns.materialized = node.config.materialized -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set reuse = branches > 1 and ns.materialized in ('view', 'ephemeral') -%}
{{ name }} as {{ 'materialized' if reuse else 'not materialized' }} (
    select {{ select_list }}
    from {{ model }}
    {%- if period_column and ntm_test_period() %}
    where {{ ntm_test_period_scope(period_column) }}
    {%- endif %}
)
{%- endmacro %}

{#- Predicate of the rows a test checks in a run scoped to a period (overview.md, "Tests in a period run"):
    NTM_DBT_TEST_PERIOD_CODE, set by the pipeline only when the change since the last successful build is
    submission files of that period alone (pipeline.transform.assets), gives the period; its quarter and year
    (a year: the year and its quarters), as macros/periods.sql. Unset or "": every row (`true`). -#}
{% macro ntm_test_period_scope(column) -%}
    {{- ntm_period_predicate(column, ntm_test_period()) -}}
{%- endmacro %}

{#- The run's test period ('' when unset: the tests' SQL is then the same as without `period_column`). -#}
{% macro ntm_test_period() -%}
    {{- return(env_var('NTM_DBT_TEST_PERIOD_CODE', '') | trim) -}}
{%- endmacro %}
