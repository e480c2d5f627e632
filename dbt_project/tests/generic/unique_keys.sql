{#- Keys and grain of a model in one query. `columns`: each column on its own has no duplicate value, nulls
    ignored (dbt's unique); `grains`: lists of columns of which no two rows share the combination, nulls
    comparing equal. One row per duplicated key value: which key, its value(s) and how many rows share it. -#}
{% test unique_keys(model, columns=[], grains=[]) %}
{%- set keys = [] %}
{%- for column in columns %}{% do keys.append({'columns': [column], 'nulls_equal': false}) %}{% endfor %}
{%- for grain in grains %}{% do keys.append({'columns': grain, 'nulls_equal': true}) %}{% endfor %}
{%- if not keys %}{{ exceptions.raise_compiler_error("unique_keys on " ~ model ~ ": no columns or grains") }}{% endif %}
{%- set needed = [] %}
{%- for key in keys %}{% for c in key.columns if c not in needed %}{% do needed.append(c) %}{% endfor %}{% endfor %}

with {{ ntm_test_source(model, needed | join(', '), keys | length) }}

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
from source
{%- if not key.nulls_equal %}
where {{ key.columns[0] }} is not null
{%- endif %}
group by {{ key.columns | join(', ') }}
having count(*) > 1
{% endfor %}
{% endtest %}
