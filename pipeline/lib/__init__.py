"""Pure helpers shared by the stages: text decoding and keys, value parsing, reporting periods, what a dbt
test guarantees (dbt_tests)."""
