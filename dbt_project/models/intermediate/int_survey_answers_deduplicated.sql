{#-
    Survey answers without duplicates: one answer per (response, question) - the last one submitted - and,
    when the same household (respondent_hash) answered the same form twice in a period, only its latest
    response counts. The respondent hash is used here and dropped afterwards.
-#}
with

answers as (

    select * from {{ ref('stg_raw__survey_answers') }}

),

answer_ranked as (

    select
        *,
        row_number() over (
            partition by response_id, question_code
            order by submitted_at desc, source_row desc
        ) as answer_rank

    from answers

),

responses as (

    select
        response_id,
        form_code,
        period_code,
        max(respondent_hash) as respondent_hash,
        max(submitted_at) as submitted_at

    from answer_ranked
    where answer_rank = 1
    group by
        response_id,
        form_code,
        period_code

),

responses_ranked as (

    select
        response_id,
        case
            when respondent_hash is null then 1
            else
                row_number() over (
                    partition by respondent_hash, form_code, period_code
                    order by submitted_at desc, response_id desc
                )
        end as respondent_rank

    from responses

),

final as (

    select
        answer_ranked.response_id,
        answer_ranked.submitted_at,
        answer_ranked.commune_code,
        answer_ranked.hamlet_code,
        answer_ranked.period_code,
        answer_ranked.form_code,
        answer_ranked.question_code,
        answer_ranked.is_satisfied

    from answer_ranked
    inner join responses_ranked
        on answer_ranked.response_id = responses_ranked.response_id
    where answer_ranked.answer_rank = 1
        and responses_ranked.respondent_rank = 1

)

select * from final
