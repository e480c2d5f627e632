{#-
    Grain: survey response x question. No personal data: no name, phone, free-text reason and no
    respondent hash (used upstream only to drop a household's duplicate responses).
-#}
with

answers as (

    select * from {{ ref('int_survey_answers_deduplicated') }}

),

final as (

    select
        cast({{ ntm_surrogate_key(['response_id', 'question_code']) }} as varchar) as survey_answer_key,
        cast(response_id as varchar) as response_id,
        cast(question_code as varchar) as question_code,
        cast(form_code as varchar) as form_code,
        cast(period_code as varchar) as period_code,
        cast(commune_code as varchar) as commune_code,
        cast(hamlet_code as varchar) as hamlet_code,
        cast(is_satisfied as boolean) as is_satisfied,
        cast(cast(submitted_at as date) as date) as submitted_on

    from answers

)

select * from final
