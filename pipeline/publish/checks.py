"""The release's own asset check: ``release_integrity`` on ``publish/open_data_release``. Files, sizes and
hashes match datapackage.json, the published satisfaction cells respect disclosure control, and no suppressed
cell can be recomputed from the published numbers (:mod:`.disclosure_audit`). The quality gate on the marts
is in :mod:`pipeline.quality.checks`."""

import json

import dagster as dg
import pandas as pd

from pipeline import changes
from pipeline.config import get_settings
from pipeline.lib.metadata import md_table
from pipeline.publish.disclosure_audit import audit_release_dir
from pipeline.publish.release import verify_release
from pipeline.quality.release_checks import check_suppression_applied


@dg.asset_check(
    asset=dg.AssetKey(["publish", "open_data_release"]),
    name="release_integrity",
    description=(
        "Bản phát hành đầy đủ: tệp, kích thước, mã băm khớp datapackage.json; ô khảo sát nhỏ đã được ẩn và "
        "không ô bị ẩn nào tính lại được từ số liệu công bố. / The release is complete (files, sizes, hashes "
        "match datapackage.json), small survey cells are suppressed and no suppressed cell can be recomputed "
        "from the published numbers."
    ),
)
def release_integrity() -> dg.AssetCheckResult:
    latest = get_settings().open_data_dir / "latest"
    problems = verify_release(latest) if latest.exists() else ["open_data/latest does not exist"]
    min_count = get_settings().suppression_min_count
    satisfaction = sorted((latest / "data").glob("mart_satisfaction*.parquet")) if latest.exists() else []
    if satisfaction:
        frame = pd.concat([pd.read_parquet(p) for p in satisfaction])
        outcome = check_suppression_applied(frame, min_count=min_count)
        if not outcome.passed:
            problems.append(outcome.message_en)
    if latest.exists() and not problems:
        # the attacker: every suppressed survey cell keeps two values or more given the published numbers
        problems.extend(audit_release_dir(latest, min_count=min_count))
    package = json.loads((latest / "datapackage.json").read_text()) if latest.exists() else {}
    if problems:
        # the run wrote its last-success record when the release went in place: a bad release is no success,
        # so the next `make run` / nightly / sensor rebuilds instead of calling it "nothing changed"
        changes.forget_success(get_settings(), latest.resolve().name if latest.exists() else None)
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "release": str(latest.resolve()) if latest.exists() else "",
            "resources": len(package.get("resources", [])),
            "problems": md_table([{"problem": p} for p in problems]),
        },
    )
