{#-
    Satisfaction per location (each hamlet, and the commune as a whole) x form x question x survey period:
    respondents (answers given), satisfied, rate (%) and whether the rate meets the >= 90 % rule.
    Small-cell suppression is applied by the publish step, not here.
-#}
with

answers as (

    select * from {{ ref('fact_survey_answer') }}

),

questions as (

    select * from {{ ref('survey_questions') }}

),

hamlet_level as (

    select
        commune_code,
        hamlet_code as location_code,
        'hamlet' as location_level,
        hamlet_code,
        period_code,
        form_code,
        question_code,
        count(is_satisfied) as respondents,
        count(*) filter (where is_satisfied) as satisfied

    from answers
    where hamlet_code is not null
    group by
        commune_code,
        hamlet_code,
        period_code,
        form_code,
        question_code

),

commune_level as (

    select
        commune_code,
        commune_code as location_code,
        'commune' as location_level,
        cast(null as varchar) as hamlet_code,
        period_code,
        form_code,
        question_code,
        count(is_satisfied) as respondents,
        count(*) filter (where is_satisfied) as satisfied

    from answers
    group by
        commune_code,
        period_code,
        form_code,
        question_code

),

unioned as (

    select * from hamlet_level
    union all
    select * from commune_level

),

final as (

    select
        cast({{ ntm_surrogate_key([
            'unioned.location_code', 'unioned.period_code', 'unioned.form_code', 'unioned.question_code'
        ]) }} as varchar) as satisfaction_key,
        cast(unioned.commune_code as varchar) as commune_code,
        cast(unioned.location_code as varchar) as location_code,
        cast(unioned.location_level as varchar) as location_level,
        cast(unioned.hamlet_code as varchar) as hamlet_code,
        cast(unioned.period_code as varchar) as period_code,
        cast(unioned.form_code as varchar) as form_code,
        cast(unioned.question_code as varchar) as question_code,
        cast(questions.question_no as integer) as question_no,
        cast(questions.text_vi as varchar) as question_text_vi,
        cast(questions.text_en as varchar) as question_text_en,
        cast(questions.topic as varchar) as topic,
        cast(unioned.respondents as integer) as respondents,
        cast(unioned.satisfied as integer) as satisfied,
        round(cast({{ ntm_safe_percent('unioned.satisfied', 'unioned.respondents') }} as double), 9) as satisfied_rate,
        cast({{ ntm_safe_percent('unioned.satisfied', 'unioned.respondents') }} >= 90 as boolean) as meets_90

    from unioned
    left join questions
        on unioned.form_code = questions.form_code
        and unioned.question_code = questions.question_code

)

select * from final
