-- The floor: the least work that turns the same raw files into the same two outputs, in one DuckDB script.
--
-- Reads every submission CSV under ${RAW}/submissions (all cells as text, file name kept), the reference
-- registry under ${RAW}/reference and the indicator catalog ${SEEDS}/indicators.csv, applies the ingest's
-- rules for clean rows (Vietnamese / English number forms, "85%", yes/no words, unknown unit / indicator /
-- hamlet, level mismatch, range, duplicate rows inside a file), picks the latest version of every
-- (unit, period) by submitted_at (ties: file name), then the latest value per location x period x
-- indicator, combines commune-level rows of the reporter units by the indicator's aggregation, derives
-- annual values from quarters by annual_rule, applies the default threshold, and rolls hamlets up to the
-- commune by aggregation. Writes ${OUT}/fact_indicator_value.parquet and
-- ${OUT}/mart_commune_indicator.parquet (zstd). No audit trail, no quarantine table, no tests, no release:
-- that is what makes it a floor. ${THREADS} and ${MEMORY_LIMIT} are the pipeline's own settings.

set threads = ${THREADS};
set memory_limit = '${MEMORY_LIMIT}';
set preserve_insertion_order = false;
set temp_directory = '${OUT}/.duckdb_tmp';  -- spills beside the output, not in the working directory

create temp table ind as
select
    upper(trim(indicator_code)) as indicator_code, value_type, level, aggregation, annual_rule, direction,
    try_cast(threshold as double) as threshold,
    try_cast(min_value as double) as min_value,
    try_cast(max_value as double) as max_value,
    reporter_unit_type
from read_csv('${SEEDS}/indicators.csv', header = true, all_varchar = true);

create temp table units as
select upper(trim(unit_code)) as unit_code, max(commune_code) as commune_code, max(unit_type) as unit_type
from read_csv('${RAW}/reference/reporting_units.csv', header = true, all_varchar = true)
group by all;

create temp table hamlets as
select upper(trim(hamlet_code)) as hamlet_code, commune_code,
       cast(valid_from as date) as valid_from, cast(nullif(valid_to, '') as date) as valid_to
from read_csv('${RAW}/reference/hamlets.csv', header = true, all_varchar = true);

-- ---------------------------------------------------------------- read + parse (every cell as text)
create temp table src as
select *
from read_csv(
    '${RAW}/submissions/**/*.csv',
    header = true, all_varchar = true, filename = true, delim = ',', quote = '"',
    null_padding = true, ignore_errors = true,
    columns = {
        'unit_code': 'VARCHAR', 'period': 'VARCHAR', 'submitted_at': 'VARCHAR', 'row_type': 'VARCHAR',
        'hamlet_code': 'VARCHAR', 'indicator_code': 'VARCHAR', 'value': 'VARCHAR', 'numerator': 'VARCHAR',
        'denominator': 'VARCHAR', 'task_code': 'VARCHAR', 'task_status': 'VARCHAR',
        'percent_done': 'VARCHAR', 'note': 'VARCHAR'
    }
);

create or replace temp macro vn_number(s) as (
    with t as (select regexp_replace(regexp_replace(trim(s), '\s+', '', 'g'), '%$', '') as b)
    select try_cast(case
        when regexp_full_match(b, '-?[1-9]\d{0,2}(\.\d{3})+') then replace(b, '.', '')
        when regexp_full_match(b, '-?\d*,\d+') then replace(b, ',', '.')
        when regexp_full_match(b, '-?[1-9]\d{0,2}(,\d{3}){2,}') then replace(b, ',', '')
        when regexp_full_match(b, '-?[1-9]\d{0,2}(\.\d{3})+,\d+') then replace(replace(b, '.', ''), ',', '.')
        when regexp_full_match(b, '-?[1-9]\d{0,2}(,\d{3})+\.\d+') then replace(b, ',', '')
        else b
    end as double) from t
);

create temp table parsed as
with typed as (
    select
        src.filename,
        upper(trim(src.unit_code)) as unit_code,
        trim(src.period) as period_code,
        try_cast(replace(trim(src.submitted_at), 'T', ' ') as timestamp) as submitted_at,
        upper(coalesce(nullif(trim(src.row_type), ''), 'CT')) as row_type,
        upper(nullif(trim(src.hamlet_code), '')) as hamlet_code,
        upper(trim(src.indicator_code)) as indicator_code,
        nullif(trim(src.value), '') as value_text,
        vn_number(nullif(trim(src.numerator), '')) as numerator,
        vn_number(nullif(trim(src.denominator), '')) as denominator,
        row_number() over () as file_row
    from src
    where src.unit_code is not null or src.indicator_code is not null
),
checked as (
    select
        typed.*,
        ind.value_type, ind.level, ind.aggregation, ind.annual_rule, ind.direction, ind.threshold,
        ind.reporter_unit_type,
        units.commune_code, units.unit_type,
        case
            when ind.value_type = 'yesno' then case
                when lower(strip_accents(value_text)) in ('co', 'c', 'x', '1', 'dat', 'yes', 'y', 'true') then 1.0
                when lower(strip_accents(value_text)) in ('khong', 'k', '0', 'khong dat', 'chua dat', 'no', 'n', 'false') then 0.0
            end
            else coalesce(
                vn_number(value_text),
                case when value_text is null and numerator is not null and denominator > 0
                     then numerator / denominator * (case when ind.value_type = 'percent' then 100 else 1 end) end
            )
        end as value,
        coalesce(typed.hamlet_code,
                 case when ind.level = 'hamlet' and regexp_full_match(typed.unit_code, '\d{5}-T\d+')
                      then typed.unit_code end) as location_hamlet_code,
        ind.min_value, ind.max_value
    from typed
    join ind on typed.indicator_code = ind.indicator_code            -- unknown_indicator
    join units on typed.unit_code = units.unit_code                  -- unknown_unit
    where typed.row_type = 'CT'
      and regexp_full_match(typed.period_code, '\d{4}(-Q[1-4])?')    -- malformed_period
      and typed.submitted_at is not null
)
select checked.*
from checked
left join hamlets on checked.location_hamlet_code = hamlets.hamlet_code
where value is not null                                                           -- unparseable / missing
  and value >= coalesce(min_value, case when value_type in ('count', 'percent') then 0 end, -1e308)
  and value <= coalesce(max_value, case when value_type = 'percent' then 100 end, 1e308)  -- out of range
  and (location_hamlet_code is null or hamlets.hamlet_code is not null)           -- unknown_hamlet
  and ((level = 'hamlet') = (location_hamlet_code is not null))                   -- level mismatch
qualify row_number() over (                                                       -- duplicate rows in a file
    partition by filename, unit_code, period_code, submitted_at, location_hamlet_code, indicator_code
    order by file_row) = 1;

-- ---------------------------------------------------------------- versions and selection
create temp table selected as
with versions as (
    select unit_code, period_code, submitted_at, filename,
           row_number() over (partition by unit_code, period_code
                              order by submitted_at desc, filename desc) as rank_desc
    from (select distinct unit_code, period_code, submitted_at, filename from parsed)
),
latest as (
    select p.*
    from parsed p
    join versions v using (unit_code, period_code, submitted_at, filename)
    where v.rank_desc = 1
),
hamlet_rows as (
    select location_hamlet_code as location_code, 'hamlet' as location_level, h.commune_code,
           location_hamlet_code as hamlet_code, period_code, indicator_code, value_type, annual_rule,
           aggregation, direction, threshold, value, numerator, denominator, unit_code, 1 as units_count,
           submitted_at
    from latest
    join hamlets h on latest.location_hamlet_code = h.hamlet_code
    where location_hamlet_code is not null
    qualify row_number() over (partition by location_hamlet_code, period_code, indicator_code
                               order by submitted_at desc, filename desc, file_row desc) = 1
),
commune_rows as (
    select commune_code as location_code, 'commune' as location_level, commune_code,
           null::varchar as hamlet_code, period_code, indicator_code, any_value(value_type) as value_type,
           any_value(annual_rule) as annual_rule, any_value(aggregation) as aggregation,
           any_value(direction) as direction, any_value(threshold) as threshold,
           case any_value(aggregation)
               when 'sum' then sum(value)
               when 'mean' then avg(value)
               when 'max' then max(value)
               when 'all_yes' then min(value)
               when 'ratio_of_sums' then sum(numerator) / nullif(sum(denominator), 0)
                    * (case when any_value(value_type) = 'percent' then 100 else 1 end)
               else arg_max(value, submitted_at)
           end as value,
           sum(numerator) as numerator, sum(denominator) as denominator,
           arg_max(unit_code, submitted_at) as unit_code, count(*) as units_count, max(submitted_at) as submitted_at
    from (
        select *, bool_or(unit_type = reporter_unit_type) over (partition by commune_code, period_code, indicator_code) as has_reporter
        from latest where location_hamlet_code is null
    )
    where unit_type = reporter_unit_type or not has_reporter
    group by commune_code, period_code, indicator_code
)
select * from hamlet_rows
union all
select * from commune_rows;

-- ---------------------------------------------------------------- annual derivation, thresholds
create temp table fact as
with quarterly as (
    select *, 'reported' as value_source, cast(null as integer) as quarters_count
    from selected where period_code like '____-Q_'
),
annual as (
    select location_code, any_value(location_level) as location_level, any_value(commune_code) as commune_code,
           any_value(hamlet_code) as hamlet_code, left(period_code, 4) as period_code, indicator_code,
           any_value(value_type) as value_type, any_value(annual_rule) as annual_rule,
           any_value(aggregation) as aggregation, any_value(direction) as direction,
           any_value(threshold) as threshold,
           case any_value(annual_rule)
               when 'sum' then sum(value)
               when 'mean' then avg(value)
               when 'max' then max(value)
               when 'ratio_of_sums' then sum(numerator) / nullif(sum(denominator), 0)
                    * (case when any_value(value_type) = 'percent' then 100 else 1 end)
               else arg_max(value, period_code)
           end as value,
           case any_value(annual_rule) when 'last' then arg_max(numerator, period_code) else sum(numerator) end as numerator,
           case any_value(annual_rule) when 'last' then arg_max(denominator, period_code) else sum(denominator) end as denominator,
           arg_max(unit_code, period_code) as unit_code, max(units_count) as units_count,
           max(submitted_at) as submitted_at,
           'derived_from_quarters' as value_source, count(*) as quarters_count
    from selected
    where period_code like '____-Q_'
    group by location_code, left(period_code, 4), indicator_code
),
reported_annual as (
    select *, 'reported' as value_source, cast(null as integer) as quarters_count
    from selected where period_code not like '____-Q_'
),
all_values as (
    select * from quarterly
    union all by name
    select * from reported_annual
    union all by name
    select a.* from annual a
    anti join reported_annual r using (location_code, period_code, indicator_code)
)
select
    md5(concat_ws('|', location_code, period_code, indicator_code)) as indicator_value_key,
    location_code, location_level, commune_code, hamlet_code, period_code,
    case when period_code like '____-Q_' then 'quarter' else 'year' end as period_kind,
    cast(left(period_code, 4) as integer) as year,
    indicator_code, value, numerator, denominator, threshold as threshold_applied,
    case when threshold is null then null
         when direction = 'lower_better' then value <= threshold
         else value >= threshold end as met_threshold,
    value_source, quarters_count, unit_code, units_count, submitted_at, aggregation, value_type
from all_values;

copy (select * exclude (aggregation, value_type) from fact)
    to '${OUT}/fact_indicator_value.parquet' (format parquet, compression zstd);

-- ---------------------------------------------------------------- commune roll-up
copy (
    with existing as (
        select h.commune_code, p.period_code, count(distinct h.hamlet_code) as hamlets_existing
        from hamlets h
        join (select distinct period_code,
                      case when period_code like '____-Q_'
                           then last_day(make_date(cast(left(period_code, 4) as integer),
                                                   cast(right(period_code, 1) as integer) * 3, 1))
                           else make_date(cast(left(period_code, 4) as integer), 12, 31) end as end_date
              from fact) p
          on h.valid_from <= p.end_date and (h.valid_to is null or h.valid_to >= p.end_date)
        group by all
    ),
    rolled as (
        select f.commune_code, f.period_code, f.indicator_code, any_value(f.aggregation) as aggregation,
               'rolled_up_from_hamlets' as value_origin,
               case any_value(f.aggregation)
                   when 'sum' then sum(f.value)
                   when 'mean' then avg(f.value)
                   when 'max' then max(f.value)
                   when 'last' then arg_max(f.value, f.submitted_at)
                   when 'ratio_of_sums' then sum(f.numerator) / nullif(sum(f.denominator), 0)
                        * (case when any_value(f.value_type) = 'percent' then 100 else 1 end)
                   when 'share_meeting' then 100.0 * count(*) filter (where f.met_threshold)
                        / nullif(any_value(e.hamlets_existing), 0)
                   when 'all_yes' then case when count(*) filter (where f.value = 1)
                        = any_value(e.hamlets_existing) then 1.0 else 0.0 end
               end as value,
               sum(f.numerator) as numerator, sum(f.denominator) as denominator,
               count(*) as hamlets_reporting, count(*) filter (where f.met_threshold) as hamlets_meeting,
               any_value(e.hamlets_existing) as hamlets_existing, any_value(f.threshold_applied) as threshold,
               any_value(f.value_source) as value_source, max(f.submitted_at) as last_submitted_at
        from fact f
        left join existing e using (commune_code, period_code)
        where f.location_level = 'hamlet'
        group by f.commune_code, f.period_code, f.indicator_code
    ),
    passed as (
        select commune_code, period_code, indicator_code, aggregation, 'reported_by_commune' as value_origin,
               value, numerator, denominator, null::bigint as hamlets_reporting, null::bigint as hamlets_meeting,
               null::bigint as hamlets_existing, threshold_applied as threshold, value_source,
               submitted_at as last_submitted_at
        from fact where location_level = 'commune'
    )
    select md5(concat_ws('|', commune_code, period_code, indicator_code)) as commune_indicator_key, *
    from (select * from rolled union all select * from passed)
) to '${OUT}/mart_commune_indicator.parquet' (format parquet, compression zstd);
