{#-
    ntm_surrogate_key(['a', 'b'])
    md5 of the natural codes joined by '|'; a null part becomes '~' so that (null, 'x') and ('', 'x') differ.
    dbt_utils is not available offline, hence this small replacement for dbt_utils.generate_surrogate_key.
-#}
{% macro ntm_surrogate_key(columns) -%}
    md5(concat_ws('|'
    {%- for column in columns %}, coalesce(cast({{ column }} as varchar), '~'){% endfor -%}
    ))
{%- endmacro %}
