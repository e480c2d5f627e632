{#- Keys and grain of a model in one query. `columns`: each column on its own has no duplicate value, nulls
    ignored (dbt's unique); `grains`: lists of columns of which no two rows share the combination, nulls
    comparing equal. One row per duplicated key value: which key, its value(s) and how many rows share it.
    `period_column`: in a run with a test period (ntm_test_period_scope) a key that contains this column is
    checked on that period's rows only (a duplicate has one period, and the other periods' rows are those an
    earlier build checked); a key without it on every row. -#}
{% test unique_keys(model, columns=[], grains=[], period_column=none) %}
{%- set keys = [] %}
{%- for column in columns %}{% do keys.append({'columns': [column], 'nulls_equal': false}) %}{% endfor %}
{%- for grain in grains %}{% do keys.append({'columns': grain, 'nulls_equal': true}) %}{% endfor %}
{%- if not keys %}{{ exceptions.raise_compiler_error("unique_keys on " ~ model ~ ": no columns or grains") }}{% endif %}
{%- set needed = {'source': [], 'scoped': []} %}
{%- for key in keys %}
    {%- set scoped = period_column and ntm_test_period() and period_column in key.columns %}
    {%- do key.update({'from': 'scoped' if scoped else 'source'}) %}
    {%- for c in key.columns if c not in needed[key.from] %}{% do needed[key.from].append(c) %}{% endfor %}
{%- endfor %}

with
{%- for name in ('source', 'scoped') if needed[name] %}
{{ "," if not loop.first }}{{ ntm_test_source(model, needed[name] | join(', '), keys | selectattr('from', 'equalto', name) | list | length,
    period_column if name == 'scoped' else none, name) }}
{%- endfor %}

{% for key in keys -%}
{%- if not loop.first %}
union all

{% endif -%}
select
    '({{ key.columns | join(", ") }})' as key_columns,
    '(' || concat_ws(
        ', ',
        {% for c in key.columns %}coalesce(cast({{ c }} as varchar), 'null'){{ ", " if not loop.last }}{% endfor %}
    ) || ')' as key_values,
    count(*) as rows_count
from {{ key.from }}
{%- if not key.nulls_equal %}
where {{ key.columns[0] }} is not null
{%- endif %}
group by {{ key.columns | join(', ') }}
having count(*) > 1
{% endfor %}
{% endtest %}
