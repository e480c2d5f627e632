{#- First and last year of the period calendar (plan 2026-2030 plus the 2025 baseline). -#}
{% macro ntm_first_year() -%}{{ var('first_year', 2025) }}{%- endmacro %}
{% macro ntm_last_year() -%}{{ var('last_year', 2030) }}{%- endmacro %}

{#-
    ntm_period_scope(column)
    Predicate for a partitioned run: with --vars '{"period_code": "2026-Q2"}' a fact is rebuilt for that quarter
    and for the year it belongs to (the year's derived value changes with each quarter); with a year
    ('2026') for that year and its four quarters. Without the var (null) every period is in scope.
    The pipeline passes the period in the environment variable NTM_DBT_PERIOD_CODE instead (the var wins when
    both are given): a --vars value that changes makes dbt parse the whole project again (about 5 s), an
    environment variable only the files that read it (pipeline.transform.assets).
-#}
{% macro ntm_period_scope(column) -%}
    {%- set period = var('period_code', none) or (env_var('NTM_DBT_PERIOD_CODE', '') | trim) or none -%}
    {{- ntm_period_predicate(column, period) -}}
{%- endmacro %}

{#- `column` is in the scope of `period`: a quarter and its year, or a year and its quarters; none or '':
    `true` (every period). -#}
{% macro ntm_period_predicate(column, period) -%}
    {%- if period is none or period == '' -%}
        true
    {%- else -%}
        ({{ column }} = '{{ period }}'
            or {{ column }} = '{{ period[:4] }}'
            {%- if period | length == 4 %}
            or left({{ column }}, 5) = '{{ period }}-'
            {%- endif %})
    {%- endif -%}
{%- endmacro %}

{#-
    ntm_replace_period_scope()
    Pre-hook of every model that is incremental by period: before the insert, delete the periods in scope
    (ntm_period_scope: the run's period and its year, or every period when the run has none). The model
    then holds exactly what its query returns for those periods. dbt's delete+insert alone deletes only
    the periods the new rows carry, so a period whose every source row is gone would otherwise stay.
    It runs inside the model's transaction: a failed insert rolls the delete back.
-#}
{% macro ntm_replace_period_scope() -%}
    {%- if execute and is_incremental() -%}
delete from {{ this }} where {{ ntm_period_scope('period_code') }}
    {%- endif -%}
{%- endmacro %}

{#- The config of every model incremental by period (the facts and the two hamlet marts):
    `{{ config(**ntm_period_incremental_config()) }}` at the top of the model. -#}
{% macro ntm_period_incremental_config() -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'period_code',
        'on_schema_change': 'fail',
        'pre_hook': ['{{ ntm_contract_not_null() }}', '{{ ntm_replace_period_scope() }}'],
    }) }}
{%- endmacro %}

{#- Percentage of two numbers, null when the denominator is 0 or null. -#}
{% macro ntm_safe_percent(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else 100.0 * {{ numerator }} / {{ denominator }}
    end
{%- endmacro %}

{#- Ratio of two numbers, null when the denominator is 0 or null. -#}
{% macro ntm_safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else 1.0 * {{ numerator }} / {{ denominator }}
    end
{%- endmacro %}

{#- met-threshold logic: higher_better means value >= threshold, lower_better value <= threshold. -#}
{% macro ntm_meets_threshold(value, threshold, direction) -%}
    case
        when {{ value }} is null or {{ threshold }} is null then null
        when {{ direction }} = 'lower_better' then {{ value }} <= {{ threshold }}
        else {{ value }} >= {{ threshold }}
    end
{%- endmacro %}
