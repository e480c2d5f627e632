"""Decoding speed of the legacy Vietnamese encodings (``python -m bench.decode_speed [--mb 5] [--reps 5]``).

``pipeline.lib.text.decode_bytes`` detects and decodes every landed text file. This prints the median
CPU time and MB/s per encoding (TCVN3, VNI, Windows-1258) over ``--reps`` runs on ``--mb`` MB of a
submission CSV plus a paragraph of prose, after checking that every run decodes exactly. It replaces a
timed unit test: speed is measured here, on a quiet machine, not asserted in ``make test``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from pipeline.lib.text import cp1258_encode, decode_bytes, tcvn3_encode, vni_encode

SAMPLE = (
    "Mã đơn vị,Kỳ báo cáo,Thời điểm gửi,Loại dòng,Mã thôn,Mã chỉ tiêu,Giá trị\n"
    "18484-KT,2026-Q3,14/09/2026 16:30,CT,18484-T07,CDS.05,85%\n"
    '18484-T07,Quý 3/2026,15/09/2026 08:00,CT,18484-T07,TC8.4,"1.234,5"\n'
    "Căn cứ Quyết định của Thủ tướng Chính phủ về Bộ tiêu chí quốc gia xã nông thôn mới, Ủy ban nhân dân "
    "xã Đồng Lộc báo cáo: tỷ lệ người dân hài lòng đạt chín mươi phần trăm; chưa đạt tiêu chí thủy lợi.\n"
)
ENCODERS = {"tcvn3": tcvn3_encode, "vni": vni_encode, "cp1258": cp1258_encode}


def measure(mb: float = 5.0, reps: int = 5) -> dict[str, dict[str, float]]:
    repeat = max(1, int(mb * 1_000_000) // len(SAMPLE.encode()))
    text = SAMPLE * repeat
    out = {}
    for name, enc in ENCODERS.items():
        data = enc(SAMPLE) * repeat
        times = []
        for _ in range(reps):
            start = time.process_time()
            got = decode_bytes(data)
            times.append(time.process_time() - start)
            if got.encoding != name or got.text != text:
                raise SystemExit(f"{name}: decoded as {got.encoding}, text differs: {got.text != text}")
        med = statistics.median(times)
        out[name] = {
            "bytes": len(data),
            "median_cpu_s": round(med, 4),
            "mb_per_s": round(len(data) / 1e6 / med, 1),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.decode_speed")
    ap.add_argument("--mb", type=float, default=5.0)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args(argv)
    print("| encoding | bytes | median CPU s | MB/s |\n| --- | ---: | ---: | ---: |")
    for name, r in measure(a.mb, a.reps).items():
        print(f"| {name} | {r['bytes']:,} | {r['median_cpu_s']} | {r['mb_per_s']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
