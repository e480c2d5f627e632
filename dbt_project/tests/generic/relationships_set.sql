{#- Relationships, for every foreign key of a model in one query (dbt's relationships once per column).
    `foreign_keys`: [{column, to: "ref('parent')", field}]. Nulls pass, as in dbt's test. One row per
    offending (column, value): the key it should match and the number of rows that carry it.
    `period_column`: in a run with a test period only that period's rows are checked (macros/set_tests.sql). -#}
{% test relationships_set(model, foreign_keys, period_column=none) %}
{%- if not foreign_keys %}{{ exceptions.raise_compiler_error("relationships_set on " ~ model ~ ": no foreign_keys") }}{% endif %}
{%- set columns = foreign_keys | map(attribute='column') | unique | list %}

with {{ ntm_test_source(model, columns | join(', '), foreign_keys | length, period_column) }}

{% for fk in foreign_keys -%}
{%- if not loop.first %}
union all

{% endif -%}
select
    '{{ fk.column }}' as column_name,
    '{{ fk.to.identifier if fk.to.identifier is defined else fk.to }}.{{ fk.field }}' as refers_to,
    cast(child.{{ fk.column }} as varchar) as value,
    count(*) as rows_count
from source as child
where
    child.{{ fk.column }} is not null
    and not exists (
        select 1
        from {{ fk.to }} as parent
        where parent.{{ fk.field }} = child.{{ fk.column }}
    )
group by child.{{ fk.column }}
{% endfor %}
{% endtest %}
