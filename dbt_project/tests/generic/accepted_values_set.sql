{#- Accepted values, for every enumerated column of a model in one query (dbt's accepted_values once per
    column). `columns`: {column: [values]}; a value keeps its YAML type (1 is compared as a number, "1" as a
    string: dbt's `quote`). Nulls pass, as in dbt's test. One row per offending (column, value) with the
    number of rows that carry it.
    `period_column`: in a run with a test period only that period's rows are checked (macros/set_tests.sql). -#}
{% test accepted_values_set(model, columns, period_column=none) %}
{%- if not columns %}{{ exceptions.raise_compiler_error("accepted_values_set on " ~ model ~ ": no columns") }}{% endif %}

with {{ ntm_test_source(model, columns.keys() | join(', '), columns | length, period_column) }}

{% for column, values in columns.items() -%}
{%- if not loop.first %}
union all

{% endif -%}
select
    '{{ column }}' as column_name,
    cast({{ column }} as varchar) as value,
    count(*) as rows_count
from source
where
    {{ column }} is not null
    and {{ column }} not in ({% for v in values %}{{ ntm_sql_literal(v) }}{{ ", " if not loop.last }}{% endfor %})
group by {{ column }}
{% endfor %}
{% endtest %}
