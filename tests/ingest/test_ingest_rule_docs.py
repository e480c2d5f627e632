"""raw/README.md states ingest and suppression rules that outsiders recompute; these tests tie the stated
lists to the code's constants and the stated suppression stop condition to the code's criterion."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.ingest.reference import HAMLET_PREFIXES
from pipeline.ingest.sources.surveys.validate import TICKS
from pipeline.publish import suppression as sup
from pipeline.publish.reuser_readme import suppression_rule_lines

README = (Path(__file__).resolve().parents[2] / "raw" / "README.md").read_text(encoding="utf-8")


def _codes_after(marker: str, stop: str) -> list[str]:
    """The backticked items after ``marker`` (whitespace-insensitive) up to ``stop``."""
    m = re.search(r"\s+".join(map(re.escape, marker.split())), README)
    assert m, marker
    found = re.findall(r"`([^`]+)`", README[m.end() : README.index(stop, m.end())])
    return [" ".join(x.split()) for x in found]


@pytest.mark.parametrize("marker", ["thử tiền tố dài trước:", "longest first:"])
def test_documented_hamlet_prefixes_equal_the_code_longest_first(marker):
    listed = _codes_after(marker, "(")
    assert sorted(listed) == sorted(HAMLET_PREFIXES)
    assert [len(p) for p in listed] == sorted((len(p) for p in listed), reverse=True)


@pytest.mark.parametrize("marker", ["đúng là một trong", "is exactly one of"])
def test_documented_tick_marks_equal_the_code(marker):
    listed = _codes_after(marker, ".")
    assert set(listed) == set(TICKS)


def test_survey_tick_marks_are_satisfied_answers_as_documented():
    import pandas as pd

    from pipeline.ingest.cells import cell_answer

    vals, err = cell_answer(pd.Series(["x", "X", "✓", "✔", " ✓ ", "✓✓"], dtype=object))
    assert list(vals[:5]) == [True] * 5 and list(err) == [None] * 5 + ["unparseable_answer"]
    assert '`✓` / `✔` count like\n`x`: a tick, and the answer "satisfied".' in README
    assert 'Dấu `✓`/`✔` cũng như\n  `x`: là dấu đánh dấu và là câu trả lời "hài lòng".' in README


def _group(counts, sats, hidden_keys, min_count):
    """One group: row 0 is the commune row (key total), rows 1.. are hamlets h1, h2, ..."""
    keys = np.array(["\x00total", *[f"h{i}" for i in range(1, len(counts))]], dtype=object)
    is_total = np.array([True] + [False] * (len(counts) - 1))
    return sup._group_protected(
        list(range(len(counts))),
        hidden_keys,
        keys,
        is_total,
        np.asarray(counts),
        np.asarray(sats),
        min_count,
        True,
        "\x00total",
    )


@pytest.mark.parametrize("t", [3, 5])
def test_with_the_commune_row_hidden_hiding_more_hamlets_changes_nothing(t):
    """raw/README §8 step 4: once the commune row is hidden, hiding more hamlets cannot change protection, so
    the code's 'hide the smallest remaining and look again' never rescues a group of mart_satisfaction."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        k = int(rng.integers(1, 6))
        n = rng.integers(0, 3 * t, size=k)
        s = np.array([int(rng.integers(0, x + 1)) for x in n])
        rest = int(rng.integers(0, 3))
        counts = [int(n.sum()) + rest, *map(int, n)]
        sats = [int(s.sum()) + int(rng.integers(0, rest + 1)), *map(int, s)]
        if counts[0] == 0:
            continue
        primary = {f"h{i + 1}" for i in range(k) if 0 < n[i] < t}
        base = _group(counts, sats, primary | {"\x00total"}, t)
        others = [f"h{i + 1}" for i in range(k) if n[i] >= t]
        for r in range(1, len(others) + 1):
            for extra in itertools.combinations(others, r):
                assert _group(counts, sats, primary | {"\x00total"} | set(extra), t) == base
        answered = int((n > 0).sum())
        stops = counts[0] < t and answered >= t - 1
        assert base == (not stops)
        if stops:  # the only unprotectable case: commune n = t - 1, t - 1 hamlets of n = 1
            assert counts[0] == t - 1 and sorted(n[n > 0]) == [1] * (t - 1)


def test_release_readme_states_the_group_order_and_the_stop_condition():
    text = "\n".join(suppression_rule_lines(5))
    assert "`question_code` string order" in text and "theo thứ tự `question_code`, so chuỗi" in text
    assert "hiding alone protects" in text and "riêng việc ẩn nó" in text
    assert "t − 1 answered hamlets of n = 1 each" in text
    assert (
        "in `question_code` order (string order)" in README
        and "theo thứ tự `question_code` (so chuỗi)" in README
    )
