"""Benchmarks (``python -m bench``): full build, nightly no-op, one new quarter, and the bare-DuckDB floor."""
