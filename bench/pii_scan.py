"""Name scan of published text at province scale (``python -m bench.pii_scan [--names 50000] [--cells 200000]
[--reps 3]``): why pipeline.lib.pii finds names with salted n-gram hashes in Python.

Three ways to find 2-6 word names, diacritics-insensitive, as whole words inside distinct text cells:
``python_ngram_hash`` (``NameIndex.spans``, used by the ingest masking: hash every run of 2-6 all-letter
words in Python, look up in a set), ``duckdb_token_join`` (``pipeline.publish.pii.cells_with_names``, used
by the release scan: the same n-grams built, hashed with sha256 and semi-joined inside DuckDB) and
``aho_corasick`` (pyahocorasick over the names in clear, word boundaries checked; only when the package is
importable - it is not a project dependency, and respondent names are stored only hashed, so it could
serve the household owners only). All three must report the same cells. Prints the median wall time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import duckdb

from pipeline.lib.pii import NameIndex, fold_text, name_key
from pipeline.publish.pii import cells_with_names

FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Trịnh",
    "Mai",
    "Lưu",
]
MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Xuân", "Kim", "Hồng", "Đình"]
GIVEN = [
    "An",
    "Bình",
    "Cúc",
    "Dũng",
    "Đào",
    "Giang",
    "Hà",
    "Hải",
    "Hạnh",
    "Hiếu",
    "Hoa",
    "Hùng",
    "Hương",
    "Khánh",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Nhung",
    "Phúc",
    "Quang",
    "Sơn",
    "Tâm",
    "Thảo",
    "Thắng",
    "Trang",
    "Tuấn",
    "Vân",
    "Việt",
    "Yến",
    "Bảo",
    "Châu",
    "Diệp",
    "Khoa",
    "Lộc",
    "Thịnh",
    "Toàn",
    "Uyên",
]
WORDS = [
    "bánh",
    "đa",
    "nước",
    "mắm",
    "mật",
    "ong",
    "chè",
    "xanh",
    "gạo",
    "thơm",
    "thôn",
    "xóm",
    "xã",
    "hợp",
    "tác",
    "nông",
    "nghiệp",
    "sản",
    "phẩm",
    "đặc",
    "sản",
    "trà",
    "nhút",
    "cam",
    "bưởi",
    "miến",
    "dầu",
    "lạc",
    "tinh",
    "bột",
    "nghệ",
    "kẹo",
    "cu",
    "đơ",
    "rượu",
]


def make(n_names: int, n_cells: int, seed: int = 7) -> tuple[list[str], list[str]]:
    rnd = random.Random(seed)
    names = list(
        {
            " ".join([rnd.choice(FAMILY), rnd.choice(MIDDLE), *rnd.sample(GIVEN, rnd.choice([1, 1, 2]))])
            for _ in range(n_names * 2)
        }
    )[:n_names]
    cells = []
    for i in range(n_cells):
        words = rnd.choices(WORDS, k=rnd.randint(2, 8))
        if i % 500 == 0:  # one cell in 500 carries a name, half of them without diacritics
            n = rnd.choice(names)
            words.insert(rnd.randint(0, len(words)), n if i % 1000 else name_key(n).upper())
        cells.append(" ".join(words) + f" {i}")
    return names, cells


def python_ngram_hash(names, cells, salt):
    index = NameIndex(salt, names=names)
    return {c for c in cells if index.spans(c)}


def duckdb_token_join(names, cells, salt):
    return cells_with_names(duckdb.connect(), cells, NameIndex(salt, names=names))


def _w(s: str) -> list[str]:
    import re

    return re.findall(r"[^\W_]+", s)


def aho_corasick(names, cells, salt):
    import ahocorasick

    a = ahocorasick.Automaton()
    for n in names:
        k = name_key(n)
        a.add_word(" " + k + " ", k)
    a.make_automaton()
    out = set()
    for c in cells:
        f = " " + " ".join(_w(fold_text(c))) + " "
        for _ in a.iter(f):
            out.add(c)
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--names", type=int, default=50_000)  # ~ respondents + household owners of a province
    ap.add_argument("--cells", type=int, default=200_000)  # distinct published text cells of a province
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    names, cells = make(args.names, args.cells)
    methods = {"python_ngram_hash": python_ngram_hash, "duckdb_token_join": duckdb_token_join}
    try:
        import ahocorasick  # noqa: F401

        methods["aho_corasick"] = aho_corasick
    except ImportError:
        print("aho_corasick: pyahocorasick not importable, skipped")
    expected = None
    for name, fn in methods.items():
        times = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            found = fn(names, cells, "bench-salt")
            times.append(time.perf_counter() - t0)
        if expected is None:
            expected = found
        elif found != expected:
            raise SystemExit(f"{name}: {len(found)} cells found, expected {len(expected)}")
        print(
            f"{name:18s} median {statistics.median(times):6.2f} s  ({args.reps} runs, "
            f"{len(names)} names, {len(cells)} cells, {len(found)} cells with a name)"
        )


if __name__ == "__main__":
    main()
