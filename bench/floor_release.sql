-- The whole-release floor, stage 1: landing files -> raw.* (the tables the dbt models read).
-- Input (bench/floor_release.py): temp tables `files` (file_id, path, sha, source) and
-- `cells_submissions`, `cells_surveys`, `cells_ocop` (file_id, row_no, one text column per template code,
-- survey answers q_<n>, reasons r_<n>). ${RAW} is the landing zone, ${TODAY} the run date.
-- Rules: raw/README.md sections 2.1-2.4 and 7 (quarantine, number / yes-no / date parsing, roll-up rules).
-- Every distinct cell value is parsed once (the `d_*` tables) and joined back; no quarantine table is kept.
-- Lines starting with "-- at-python <step>" (written with @) hand over to a Python step of bench/floor_release.py.

set preserve_insertion_order = true;

-- ------------------------------------------------------------------ registries (reference/*.csv)
create table raw.hamlets as
select cast(hamlet_key as integer) as hamlet_key, upper(trim(nfc_normalize(hamlet_code))) as hamlet_code,
       trim(commune_code) as commune_code, nfc_normalize(trim(name)) as name, trim(hamlet_type) as hamlet_type,
       cast(nullif(trim(valid_from), '') as date) as valid_from, cast(nullif(trim(valid_to), '') as date) as valid_to,
       null::varchar as _file_sha256, 'reference/hamlets.csv' as _source_file, null::integer as _source_row
from read_csv('${RAW}/reference/hamlets.csv', header = true, all_varchar = true);

create temp table _ru as select * from read_csv('${RAW}/reference/reporting_units.csv', header = true, all_varchar = true);
alter table _ru add column if not exists reports_for_hamlets varchar;
create table raw.reporting_units as
select upper(trim(unit_code)) as unit_code, trim(commune_code) as commune_code, trim(unit_type) as unit_type,
       trim(abbr) as abbr, nfc_normalize(trim(name_vi)) as name_vi, trim(name_en) as name_en,
       cast(nullif(trim(valid_from), '') as date) as valid_from, cast(nullif(trim(valid_to), '') as date) as valid_to,
       nullif(trim(reports_for_hamlets), '') as reports_for_hamlets,
       null::varchar as _file_sha256, 'reference/reporting_units.csv' as _source_file, null::integer as _source_row
from _ru;

create table raw.hamlet_population as
select upper(trim(hamlet_code)) as hamlet_code, cast(year as integer) as year,
       cast(households as integer) as households, cast(population as integer) as population,
       null::varchar as _file_sha256, 'reference/hamlet_population.csv' as _source_file, null::integer as _source_row
from read_csv('${RAW}/reference/hamlet_population.csv', header = true, all_varchar = true);

create table raw.hamlet_crosswalk as
select upper(trim(predecessor_code)) as predecessor_code, upper(trim(successor_code)) as successor_code,
       trim(change_type) as change_type, cast(effective_date as date) as effective_date,
       cast(population_share as double) as population_share,
       null::varchar as _file_sha256, 'reference/hamlet_crosswalk.csv' as _source_file, null::integer as _source_row
from read_csv('${RAW}/reference/hamlet_crosswalk.csv', header = true, all_varchar = true);

create table raw.federation_settings (level varchar, home_province_code varchar);

create temp table ind as
select upper(trim(indicator_code)) as indicator_code, value_type, level,
       try_cast(min_value as double) as min_value, try_cast(max_value as double) as max_value,
       nullif(missing_fraction_rule, '') as missing_fraction_rule, nullif(fraction_weight, '') as fraction_weight,
       nullif(hamlet_reporters, '') as hamlet_reporters
from read_csv('${SEEDS}/indicators.csv', header = true, all_varchar = true);

create temp table plan_task_codes as
select distinct upper(trim(task_code)) as task_code from read_csv('${SEEDS}/plan_tasks.csv', header = true, all_varchar = true);

create temp table questions as
select form_code, question_code, cast(question_no as integer) as question_no
from read_csv('${SEEDS}/survey_questions.csv', header = true, all_varchar = true);

-- @python reference

insert into raw.federation_settings
select 'commune', province_code from raw.communes where commune_code = (select max(commune_code) from raw.hamlets);

create temp table reporters as
select distinct upper(trim(unit_code)) as unit_code, upper(trim(h)) as hamlet_code
from (select unit_code, unnest(regexp_split_to_array(reports_for_hamlets, '[;,\s]+')) as h
      from raw.reporting_units where reports_for_hamlets is not null)
where trim(h) <> '';

-- ------------------------------------------------------------------ parse each distinct cell once
create temp table d_num as
with d as (
    select distinct v from (
        select value as v from cells_submissions union all select numerator from cells_submissions
        union all select denominator from cells_submissions union all select percent_done from cells_submissions
        union all select score from cells_ocop union all select group_code from cells_ocop
        union all select stars from cells_ocop)
    where v is not null
),
t as (
    select v, regexp_replace(trim(v), '[\s\x{00a0}\x{202f}\x{2009}]+', ' ', 'g') as t0 from d
),
u as (
    select v, t0, t0 like '%\%' escape '\' as pct,
           regexp_replace(regexp_replace(t0, '\s*%$', ''), '(\d) (\d{3})(\D|$)', '\1\2\3', 'g') as t1
    from t
),
s as (
    select v, pct, t1, regexp_extract(t1, '^([+\-\x{2212}]?)\s*(.*)$', 1) as sign,
           regexp_extract(t1, '^([+\-\x{2212}]?)\s*(.*)$', 2) as body
    from u
)
select v, pct,
       lower(trim(t1)) in ('', '-', '–', '—', 'none', 'nan', 'null', '<na>', 'nat') as blank,
       (case when sign in ('-', '−') then -1 else 1 end) * try_cast(case
           when regexp_full_match(body, '[1-9]\d{0,2}(\.\d{3})+') then replace(body, '.', '')
           when regexp_full_match(body, '\d+|\d*\.\d+|\d+([.,]\d+)?[eE][+-]?\d+') then replace(body, ',', '.')
           when regexp_full_match(body, '\d*,\d+') then replace(body, ',', '.')
           when regexp_full_match(body, '[1-9]\d{0,2}(,\d{3}){2,}') then replace(body, ',', '')
           when regexp_full_match(body, '[1-9]\d{0,2}(\.\d{3})+,\d+') then replace(replace(body, '.', ''), ',', '.')
           when regexp_full_match(body, '[1-9]\d{0,2}(,\d{3})+\.\d+') then replace(body, ',', '')
       end as double) as num
from s;

create or replace temp macro fold_text(s) as
    trim(regexp_replace(lower(strip_accents(replace(replace(nfc_normalize(s), 'đ', 'd'), 'Đ', 'D'))), '\s+', ' ', 'g'),
         ' :*.,;!?-_–—"''“”‘’•');

create temp table d_truth as
with d as (
    select distinct v from (
        select value as v from cells_submissions union all select replace_all from cells_submissions)
    where v is not null
    union
    select distinct v from (unpivot (select * exclude (file_id, row_no) from cells_surveys)
                            on columns('^q_\d+$') into name q value v)
),
f as (
    select v, lower(trim(v)) in ('', '-', '–', '—', 'none', 'nan', 'null', '<na>', 'nat') as blank,
           (regexp_matches(trim(v), '[^\p{L}\p{N}\s.\x{2713}\x{2714}]|_')
            or (contains(trim(v), '.') and not regexp_full_match(trim(v), '[01]\.0'))) as odd,
           fold_text(v) as k
    from d
)
select v, blank,
       case when odd then null
            when k in ('co', 'c', 'x', '1', '1.0', 'dat', 'yes', 'y', 'true', '✓', '✔') then 1.0
            when k in ('khong', 'k', '0', '0.0', 'khong dat', 'chua dat', 'chua', 'no', 'n', 'false') then 0.0
       end as yesno,
       case when odd then null
            when k in ('hai long', 'rat hai long', '1', '1.0', 'x', 'co', 'yes', 'true', '✓', '✔') then true
            when k in ('khong hai long', 'chua hai long', 'rat khong hai long', '0', '0.0', 'khong', 'no', 'false')
                then false
       end as answer,
       trim(v) in ('x', 'X', '✓', '✔') as tick
from f;

create temp table d_time as
select v, coalesce(
    try_strptime(trim(v), ['%d/%m/%Y %H:%M', '%d/%m/%Y %H:%M:%S', '%Y-%m-%d %H:%M', '%Y-%m-%d %H:%M:%S',
                           '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M', '%d/%m/%Y', '%Y-%m-%d']),
    null) as ts
from (select distinct submitted_at as v from cells_submissions
      union select distinct submitted_at from cells_surveys
      union select distinct issued_on from cells_ocop union select distinct expires_on from cells_ocop)
where v is not null;

create temp table d_period as
select v, p as period_code,
       regexp_full_match(p, '\d{4}(-Q[1-4])?') as well_formed,
       case when regexp_full_match(p, '\d{4}(-Q[1-4])?')
            then make_date(cast(left(p, 4) as integer),
                           case when length(p) = 7 then (cast(right(p, 1) as integer) - 1) * 3 + 1 else 1 end, 1) end
           as period_start,
       case when regexp_full_match(p, '\d{4}(-Q[1-4])?')
            then last_day(make_date(cast(left(p, 4) as integer),
                                    case when length(p) = 7 then cast(right(p, 1) as integer) * 3 else 12 end, 1)) end
           as period_end
from (select v, upper(trim(v)) as p
      from (select distinct period as v from cells_submissions union select distinct period from cells_surveys)
      where v is not null);

-- ------------------------------------------------------------------ unit reports (CT values, NV tasks)
create temp table sub as
with c as (
    select c.file_id, c.row_no,
           nullif(upper(trim(c.unit_code)), '') as unit, nullif(trim(c.period), '') as period_text,
           p.period_code, p.well_formed, p.period_start, p.period_end,
           t.ts as submitted_at, nullif(trim(c.submitted_at), '') as submitted_text,
           nullif(upper(trim(c.row_type)), '') as rtype,
           nullif(upper(trim(c.indicator_code)), '') as indicator,
           nullif(upper(trim(c.task_code)), '') as task,
           nullif(upper(trim(c.hamlet_code)), '') as hamlet_raw,
           c.value, c.numerator, c.denominator, nullif(trim(c.task_status), '') as status_text,
           c.percent_done, nullif(trim(c.note), '') as note, c.replace_all
    from cells_submissions c
    left join d_period p on c.period = p.v
    left join d_time t on c.submitted_at = t.v
),
k as (
    select c.*, ind.indicator_code is not null as known_ind, ind.value_type, ind.level, ind.min_value,
           ind.max_value, ind.missing_fraction_rule, ind.fraction_weight, ind.hamlet_reporters,
           u.unit_code is not null as known_unit,
           coalesce(c.hamlet_raw, case when ind.level = 'hamlet' and uh.hamlet_code is not null then c.unit end)
               as hamlet
    from c
    left join ind on c.indicator = ind.indicator_code
    left join (select distinct unit_code from raw.reporting_units) u on c.unit = u.unit_code
    left join (select distinct hamlet_code from raw.hamlets) uh on c.unit = uh.hamlet_code
),
v as (
    select k.*,
           kh.hamlet_code is not null as known_h,
           exists (select 1 from raw.hamlets h where h.hamlet_code = k.hamlet
                   and (h.valid_from is null or h.valid_from <= k.period_end)
                   and (h.valid_to is null or h.valid_to >= k.period_start)) as valid_h,
           case when k.value_type = 'yesno' then y.yesno else nv.num end as value0,
           case when k.value_type = 'yesno' then y.v is not null and not y.blank and y.yesno is null
                else nv.v is not null and not nv.blank and nv.num is null end as value_err,
           coalesce(nv.pct, false) as has_pct,
           nn.num as numer, nn.v is not null and not nn.blank and nn.num is null as numer_err,
           nd.num as denom, nd.v is not null and not nd.blank and nd.num is null as denom_err,
           np.num as pdone, np.v is not null and not np.blank and np.num is null as pdone_err,
           ra.yesno as replace_all_v, ra.v is not null and not ra.blank and ra.yesno is null as replace_err,
           (value is null or y.blank or nv.blank) as value_blank,
           case fold_text(k.status_text) when 'chua thuc hien' then 'not_started' when 'dang thuc hien' then 'in_progress'
               when 'hoan thanh' then 'done' when 'cham tien do' then 'overdue' end as status0
    from k
    left join (select distinct hamlet_code from raw.hamlets) kh on k.hamlet = kh.hamlet_code
    left join d_truth y on k.value = y.v and k.value_type = 'yesno'
    left join d_num nv on k.value = nv.v and k.value_type is distinct from 'yesno'
    left join d_num nn on k.numerator = nn.v
    left join d_num nd on k.denominator = nd.v
    left join d_num np on k.percent_done = np.v
    left join d_truth ra on k.replace_all = ra.v
),
w as (
    select v.*, rtype = 'CT' as ct, rtype = 'NV' as nv_row, rtype = 'CT' and known_ind as cti,
           coalesce(status0, case when status_text in ('not_started', 'in_progress', 'done', 'overdue') then status_text end)
               as status,
           rtype = 'CT' and known_ind and value_type in ('percent', 'ratio') and numer is not null and denom is not null
               as both_nd
    from v
),
x as (
    select w.*,
           coalesce(value0, case when both_nd and denom <> 0
                                 then (case when value_type = 'percent' then 100.0 else 1.0 end) * numer / denom end)
               as value_f,
           both_nd and denom > 0 and (value_type = 'percent' or (value_type = 'ratio' and max_value <= 1))
               and numer > denom as over
    from w
)
select x.*,
       (unit is null or not known_unit
        or period_text is null or not coalesce(well_formed, false) or period_start > date '${TODAY}'
        or submitted_text is null or submitted_at is null
        or rtype is null or rtype not in ('CT', 'NV')
        or (ct and indicator is null) or (ct and indicator is not null and not known_ind)
        or (ct and hamlet is not null and not known_h)
        or (ct and known_h and well_formed and period_start <= date '${TODAY}' and not valid_h)
        or (cti and level = 'commune' and hamlet is not null) or (cti and level = 'hamlet' and hamlet is null)
        or (cti and value_err) or (cti and value_type <> 'yesno' and has_pct and value_type <> 'percent')
        or (cti and (numer_err or denom_err))
        or (both_nd and denom = 0) or coalesce(over, false) or (cti and coalesce(numer < 0 or denom < 0, false))
        or (cti and not both_nd and value_f is null and not value_err and value_blank)
        -- 7.1 missing_fraction / missing_weight
        or (cti and missing_fraction_rule is not null and missing_fraction_rule <> 'not_applicable'
            and ((numer is null) <> (denom is null)))
        or (cti and missing_fraction_rule = 'quarantine' and numer is null and denom is null and value_f is not null)
        or (cti and missing_fraction_rule = 'derive_from_weight' and fraction_weight = 'households' and known_h
            and numer is null and denom is null and value_f is not null and period_code is not null
            and not exists (select 1 from raw.hamlet_population hp where hp.hamlet_code = x.hamlet
                            and hp.year = cast(left(x.period_code, 4) as integer)))
        -- 7.4 reporter_not_allowed
        or (cti and known_h and hamlet is not null and unit is not null
            and hamlet_reporters in ('own_or_listed', 'own_only') and unit <> hamlet
            and not (hamlet_reporters = 'own_or_listed'
                     and exists (select 1 from reporters r where r.unit_code = x.unit and r.hamlet_code = x.hamlet)))
        or (cti and not coalesce(over, false) and value_f is not null
            and (value_f < coalesce(min_value, case when value_type in ('count', 'percent') then 0 end, '-inf'::double)
                 or value_f > coalesce(max_value, case when value_type = 'percent' then 100 end, 'inf'::double)))
        or replace_err
        or (nv_row and task is null) or (nv_row and task is not null and task not in (select task_code from plan_task_codes))
        or (nv_row and status_text is null) or (nv_row and status_text is not null and status is null)
        or (nv_row and pdone_err) or (nv_row and coalesce(pdone < 0 or pdone > 100, false))
        or (ct and row_number() over (partition by file_id, unit, period_text, submitted_at, hamlet, indicator, rtype
                                      order by row_no) > 1)
        or (nv_row and row_number() over (partition by file_id, unit, period_text, submitted_at, task, rtype
                                          order by row_no) > 1)
       ) as bad
from x;

insert into raw.submission_values
select unit, period_code, submitted_at, hamlet, indicator, value_f, numer, denom, note,
       f.sha, f.path, row_no
from sub join files f using (file_id)
where ct and not bad
order by file_id, row_no;

insert into raw.submission_tasks
select unit, period_code, submitted_at, task, status, pdone, note, f.sha, f.path, row_no
from sub join files f using (file_id)
where nv_row and not bad
order by file_id, row_no;

insert into raw.submissions
with g as (
    select file_id, unit, period_code, submitted_at, min(row_no) as first_row,
           count(*) filter (where not bad) as rows_loaded, count(*) filter (where bad) as rows_quarantined,
           coalesce(max(replace_all_v) = 1, false) as replace_all
    from sub
    where known_unit and well_formed and period_start <= date '${TODAY}' and submitted_at is not null
    group by all
    having count(*) filter (where not bad) > 0
),
n as (
    select g.*, f.sha, f.path,
           row_number() over (partition by g.file_id, unit, period_code order by first_row) as nth,
           row_number() over (order by g.file_id, first_row) as arrival_seq
    from g join files f using (file_id)
)
select left(sha, 12) || '-' || unit || '-' || period_code || case when nth > 1 then '-' || nth else '' end,
       unit, period_code, submitted_at, arrival_seq, rows_loaded, rows_quarantined, replace_all, sha, path,
       first_row
from n order by arrival_seq;

-- ------------------------------------------------------------------ survey exports
create temp table _survey_rows as
select c.*, nullif(trim(c.hamlet), '') as hamlet_text from cells_surveys c;

-- @python resolve_survey_hamlets
-- @python hash_respondents

create temp table srv as
with r as (
    select s.file_id, s.row_no, nullif(trim(s.response_id), '') as response_id, t.ts as submitted_at,
           nullif(trim(s.submitted_at), '') as submitted_text,
           nullif(upper(trim(s.form_code)), '') as form_code, s.hamlet_text,
           nullif(trim(s.commune_code), '') as commune_raw, nullif(trim(s.period), '') as period_raw,
           p.period_code as pcode, p.well_formed, s.respondent_name, s.respondent_phone
    from _survey_rows s
    left join d_time t on s.submitted_at = t.v
    left join d_period p on s.period = p.v
),
h as (
    select r.*,
           coalesce(
               (select max(hamlet_code) from raw.hamlets hh where hh.hamlet_code = upper(trim(r.hamlet_text))),
               (select max(hk.hamlet_code) from hamlet_text_keys tk join hamlet_name_keys hk using (name_key)
                join raw.hamlets hv on hv.hamlet_code = hk.hamlet_code
                where tk.hamlet_text = r.hamlet_text
                  and (hv.valid_from is null or hv.valid_from <= cast(r.submitted_at as date))
                  and (hv.valid_to is null or hv.valid_to >= cast(r.submitted_at as date)))
           ) as hamlet_code
    from r
)
select h.*, coalesce(h.commune_raw, (select max(commune_code) from raw.hamlets x where x.hamlet_code = h.hamlet_code))
           as commune_code,
       case when period_raw is not null then left(pcode, 4) else cast(year(submitted_at) as varchar) end as period_code,
       (response_id is null or submitted_text is null or submitted_at is null or form_code is null
        or form_code not in (select form_code from questions)
        or hamlet_text is null or hamlet_code is null
        or (commune_raw is not null and commune_raw not in (select commune_code from raw.communes))
        or (period_raw is not null and not coalesce(well_formed, false))
        or (response_id is not null
            and row_number() over (partition by file_id, response_id order by row_no) > 1)) as bad_row
from h;

create temp table srv_answers as
with a as (
    unpivot (select file_id, row_no, coalesce(columns('^q_\d+$'), '') from _survey_rows)
    on columns('^q_\d+$') into name q value v
),
tick_files as (
    select a.file_id from a left join d_truth t on a.v = t.v where nullif(trim(a.v), '') is not null
    group by a.file_id having bool_and(coalesce(t.tick, false)) and count(*) > 0
),
parsed as (
    select a.file_id, a.row_no, cast(substr(a.q, 3) as integer) as question_no, a.v,
           nullif(trim(a.v), '') is null as is_blank, t.answer, coalesce(t.tick, false) as tick,
           nullif(trim(a.v), '') is not null and t.answer is null as err
    from a left join d_truth t on a.v = t.v
)
select p.*, bool_or(p.tick) over (partition by p.file_id, p.row_no) as tick_row,
       p.file_id in (select file_id from tick_files) as tick_file
from parsed p;

insert into raw.survey_answers
with good as (
    select * from srv
    where not bad_row
      and not exists (select 1 from srv_answers a where a.file_id = srv.file_id and a.row_no = srv.row_no and a.err)
      and not exists (select 1 from srv_answers a where a.file_id = srv.file_id and a.row_no = srv.row_no
                      and a.answer is not null
                      and not exists (select 1 from questions q where q.form_code = srv.form_code
                                      and q.question_no = a.question_no))
)
select g.response_id, g.submitted_at, g.commune_code, g.hamlet_code, g.period_code, g.form_code, q.question_code,
       coalesce(a.answer, case when a.is_blank and a.tick_row and a.tick_file then false end) as satisfied,
       h.respondent_hash, h.respondent_name_hash, h.respondent_name_fold_hash, f.sha, f.path, g.row_no
from good g
join srv_answers a on a.file_id = g.file_id and a.row_no = g.row_no
join questions q on q.form_code = g.form_code and q.question_no = a.question_no
join files f on f.file_id = g.file_id
left join respondent_hashes h on h.respondent_name is not distinct from g.respondent_name
                             and h.respondent_phone is not distinct from g.respondent_phone
where coalesce(a.answer, case when a.is_blank and a.tick_row and a.tick_file then false end) is not null
order by g.file_id, g.row_no, a.question_no;

insert into raw.survey_reasons
select g.response_id, q.question_code, r.reason_text, f.sha, f.path, g.row_no
from (unpivot (select file_id, row_no, columns('^r_\d+$') from _survey_rows)
      on columns('^r_\d+$') into name rq value reason_text) r
join srv g on g.file_id = r.file_id and g.row_no = r.row_no and not g.bad_row
join questions q on q.form_code = g.form_code and q.question_no = cast(substr(r.rq, 3) as integer)
join files f on f.file_id = g.file_id
where nullif(trim(r.reason_text), '') is not null
order by g.file_id, g.row_no;

-- ------------------------------------------------------------------ OCOP product records
insert into raw.ocop_products
with o as (
    select c.file_id, c.row_no, nullif(trim(c.product_id), '') as product_id,
           nullif(trim(c.product_name), '') as product_name, g.num as group_code, g.v is not null and g.num is null as group_err,
           nullif(trim(c.subgroup), '') as subgroup, nullif(trim(c.producer_name), '') as producer_name,
           case fold_text(c.producer_type) when 'doanh nghiep' then 'enterprise' when 'hop tac xa' then 'cooperative'
               when 'to hop tac' then 'cooperative_group' when 'ho kinh doanh' then 'household'
               else case when trim(c.producer_type) in ('enterprise', 'cooperative', 'cooperative_group', 'household')
                         then trim(c.producer_type) end end as producer_type,
           nullif(trim(c.producer_type), '') as producer_type_raw,
           case fold_text(c.rating_level) when 'tinh' then 'province' when 'trung uong' then 'central'
               else case when trim(c.rating_level) in ('province', 'central') then trim(c.rating_level) end end as rating_level,
           nullif(trim(c.rating_level), '') as rating_raw,
           case fold_text(c.status) when 'con hieu luc' then 'active' when 'het han' then 'expired' when 'thu hoi' then 'revoked'
               else case when trim(c.status) in ('active', 'expired', 'revoked') then trim(c.status) end end as status,
           nullif(trim(c.status), '') as status_raw,
           nullif(upper(trim(c.hamlet_code)), '') as hamlet_code,
           sc.num as score, sc.v is not null and sc.num is null as score_err,
           st.num as stars, st.v is not null and st.num is null as stars_err,
           cast(i.ts as date) as issued_on, cast(e.ts as date) as expires_on,
           nullif(trim(c.issued_on), '') as issued_raw, nullif(trim(c.expires_on), '') as expires_raw,
           nullif(trim(c.certificate_no), '') as certificate_no, nullif(trim(c.material_area_code), '') as material_area_code,
           nullif(trim(c.traceability_url), '') as traceability_url
    from cells_ocop c
    left join d_num g on c.group_code = g.v
    left join d_num sc on c.score = sc.v
    left join d_num st on c.stars = st.v
    left join d_time i on c.issued_on = i.v
    left join d_time e on c.expires_on = e.v
)
select product_id, product_name, cast(round(group_code) as integer), subgroup, producer_name, producer_type,
       o.hamlet_code, (select max(commune_code) from raw.hamlets h where h.hamlet_code = o.hamlet_code),
       score, cast(round(stars) as integer), rating_level, certificate_no, issued_on, expires_on,
       material_area_code, traceability_url, status, f.sha, f.path, row_no
from o join files f using (file_id)
where product_id is not null and product_name is not null and producer_name is not null
  and group_code is not null and not group_err and group_code in (1, 2, 3, 4, 5, 6)
  and producer_type is not null and (rating_raw is null or rating_level is not null)
  and (status_raw is null or status is not null)
  and (hamlet_code is null or hamlet_code in (select hamlet_code from raw.hamlets))
  and score is not null and not score_err and score between 0 and 100
  and stars is not null and not stars_err
  and stars = case when score >= 90 then 5 when score >= 70 then 4 when score >= 50 then 3 end
  and issued_on is not null and expires_on is not null
  and expires_on = cast(issued_on + interval 36 month as date)
qualify row_number() over (partition by file_id, product_id order by row_no) = 1
order by file_id, row_no;
