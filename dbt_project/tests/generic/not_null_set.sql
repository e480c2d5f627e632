{#- Not null, for several columns of a model in one query (dbt's not_null once per column). One row per
    null: the column and the whole row as JSON, so the output names the offending row.
    `period_column`: in a run with a test period only that period's rows are checked (macros/set_tests.sql). -#}
{% test not_null_set(model, columns, period_column=none) %}
{%- if not columns %}{{ exceptions.raise_compiler_error("not_null_set on " ~ model ~ ": no columns") }}{% endif %}

with {{ ntm_test_source(model, '*', columns | length, period_column) }}

{% for column in columns -%}
{%- if not loop.first %}
union all

{% endif -%}
select
    '{{ column }}' as column_name,
    cast(to_json(source) as varchar) as row_values
from source
where {{ column }} is null
{% endfor %}
{% endtest %}
