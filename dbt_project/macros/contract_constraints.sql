{#- The NOT NULL constraints of an enforced contract on an incremental model that already exists.

    dbt-duckdb creates a contracted table with its contract's column constraints (`create table ... (col type
    not null, ...)`), and DuckDB then refuses a NULL on every insert: the constraint is the one owner of
    not-null (no `not_null` data test repeats it). An incremental model is created once and only inserted
    into afterwards, so a table created before a constraint was added to its contract would not have it:
    this pre-hook sets every contract `not_null` constraint on the existing table before the insert
    (`alter table ... alter column ... set not null` is idempotent in DuckDB, and fails, naming the column,
    if a NULL is already there). -#}
{% macro ntm_contract_not_null() -%}
    {%- if execute and is_incremental() -%}
        {%- for column in model.columns.values() -%}
            {%- if column.constraints | selectattr('type', 'equalto', 'not_null') | list %}
alter table {{ this }} alter column {{ adapter.quote(column.name) }} set not null;
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
