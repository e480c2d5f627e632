"""Frictionless Data Package (v1 descriptor) for a release, plus validation helpers.

What Frictionless 5.21 does with Parquet (found by running it, not assumed):

* ``format: parquet`` resources are read by its parquet plugin (``pyarrow.parquet.read_table`` ->
  pandas -> rows), so ``frictionless validate datapackage.json`` checks every row against the Table
  Schema: types, constraints, ``primaryKey`` uniqueness and ``foreignKeys``.
* The parser bypasses Frictionless' byte loader, so no byte statistics are computed: a standard
  ``bytes`` property on a Parquet resource always fails with ``byte-count ... actual is "None"`` (every
  resource of a release is Parquet, so Frictionless accepts ``bytes`` on none of them;
  tests/publish/test_datapackage.py fails the day it does, to add it) and a standard ``hash`` is silently
  not checked. We therefore keep the standard ``hash`` (``sha256:<hex>``, v5 format; harmless, and checked
  by other tools) on single-file resources, and put the byte size and sha256 of *every* file in the custom
  property ``ntm:files`` (checked by :func:`verify_release` in ``release.py``). The total size is in
  ``ntm:bytes``.
* Nulls in integer columns arrive as float NaN (pandas) and fail the ``integer`` type check unless
  ``"nan"`` is in ``missingValues`` (Frictionless compares ``str(cell)``); the schemas list ``["", "nan"]``.
* A multipart resource (``path`` is a list, used for period-partitioned tables) is accepted but the parquet
  parser only opens the *first* part. :func:`validate_package` therefore also validates every other part as
  a resource with the same schema, in a package with the resources its foreign keys reference.
* Timestamps are published as instants in Asia/Ho_Chi_Minh (:data:`pipeline.publish.parquet.PUBLISH_TZ`);
  a ``datetime`` field says so in its description and in ``ntm:timezone``. Its ``format`` stays
  ``default`` (ISO 8601 with the offset, e.g. ``2026-03-20T08:15:00+07:00``), the form of the CSV copies.
* Titles are complete: ``title`` is "<Vietnamese title> / <English title>" from the model's dbt meta
  (pipeline.publish.dbt_meta.model_title), the full texts are in ``description``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.publish.home import HomeCommune, home_commune

PROFILE = "data-package"
PARQUET_MEDIATYPE = "application/vnd.apache.parquet"
MISSING_VALUES = ["", "nan"]

# CC BY 4.0 rather than ODC-BY: decree 47/2020/NĐ-CP asks that open data be free to reuse with the source
# cited - exactly the attribution condition. CC BY 4.0 licenses copyright *and* sui-generis database rights
# (4.0 added the latter), is on the Open Definition's conformant list, and is the licence reusers and
# portals (data.gov.vn, EU/World Bank portals) recognise; ODC-BY covers the database only, not the
# descriptive texts (README, titles) that ship with it.
LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International",
}


def sources(home: HomeCommune) -> list[dict[str, str]]:
    return [
        {
            "title": f"{home.committee_vi}, {home.province_division_vi} {home.province_name} - báo cáo định kỳ của "
            f"các đơn vị, khảo sát sự hài lòng (Ủy ban MTTQ {home.division_vi}), hồ sơ OCOP / {home.committee_en}, "
            f"{home.province_name} - unit reports, satisfaction surveys (Fatherland Front), OCOP records",
            "path": home.portal_url,
        },
        {
            "title": "Quyết định 318/QĐ-TTg (2022), 51/2025/QĐ-TTg - bộ tiêu chí nông thôn mới / "
            "national new-rural criteria sets",
        },
    ]


def table_schema_type(t: pa.DataType) -> tuple[str, dict[str, Any]]:
    """Map a (normalised) Arrow type to a Table Schema (type, extra properties)."""
    if pa.types.is_boolean(t):
        return "boolean", {}
    if pa.types.is_integer(t):
        return "integer", {}
    if pa.types.is_floating(t):
        return "number", {}
    if pa.types.is_decimal(t):
        return "number", {}
    if pa.types.is_string(t):
        return "string", {}
    if pa.types.is_date(t):
        return "date", {}
    if pa.types.is_timestamp(t):
        return "datetime", {}
    if pa.types.is_time(t):
        return "time", {}
    raise TypeError(f"no Table Schema type for Arrow type {t}")


TIMESTAMP_NOTE = (
    "Giờ Việt Nam ({tz}, UTC+07:00), ISO 8601 có độ lệch múi giờ, ví dụ 2026-03-20T08:15:00+07:00",
    "Vietnam time ({tz}, UTC+07:00), ISO 8601 with the offset, e.g. 2026-03-20T08:15:00+07:00",
)


def resource_schema(arrow_schema: pa.Schema, spec) -> dict[str, Any]:
    """Table Schema for one resource: fields with types and bilingual descriptions, keys."""
    fields = []
    for f in arrow_schema:
        ts_type, extra = table_schema_type(f.type)
        desc = spec.fields.get(f.name)
        fd: dict[str, Any] = {"name": f.name, "type": ts_type, **extra}
        if pa.types.is_timestamp(f.type) and f.type.tz:
            note_vi, note_en = (n.format(tz=f.type.tz) for n in TIMESTAMP_NOTE)
            vi, en = desc or (f.name, f.name)
            desc = (f"{vi.rstrip('. ')}. {note_vi}", f"{en.rstrip('. ')}. {note_en}")
            fd["format"] = "default"
            fd["ntm:timezone"] = f.type.tz
        if desc:
            fd["description"] = f"{desc[0]} / {desc[1]}"
            fd["ntm:description_vi"] = desc[0]
            fd["ntm:description_en"] = desc[1]
        if pa.types.is_decimal(f.type):
            fd["ntm:arrow_type"] = str(f.type)
        if f.name in spec.primary_key:
            fd["constraints"] = {"required": True}
        fields.append(fd)
    # Parquet nulls are native; "nan" is listed because Frictionless 5.21 reads Parquet through pandas, where a
    # null in an integer column becomes float NaN (its NaN test is `value is np.nan`, which misses them).
    schema: dict[str, Any] = {"fields": fields, "missingValues": MISSING_VALUES}
    if spec.primary_key:
        schema["primaryKey"] = list(spec.primary_key)
    if spec.foreign_keys:
        schema["foreignKeys"] = [
            {"fields": list(fk[0]), "reference": {"resource": fk[1], "fields": list(fk[2])}}
            for fk in spec.foreign_keys
        ]
    return schema


def resource_descriptor(
    spec, arrow_schema: pa.Schema, files: Sequence[dict[str, Any]], rows: int, partitioned: bool
) -> dict[str, Any]:
    """``files``: [{path (relative, posix), bytes, sha256, rows}], in path order."""
    res: dict[str, Any] = {
        "name": spec.name,
        "type": "table",
        "path": [f["path"] for f in files] if partitioned else files[0]["path"],
        "scheme": "file",
        "format": "parquet",
        "mediatype": PARQUET_MEDIATYPE,
        "title": f"{spec.title_vi} / {spec.title_en}",
        "description": "\n\n".join(d for d in (spec.description_vi, spec.description_en) if d),
        "ntm:title_vi": spec.title_vi,
        "ntm:title_en": spec.title_en,
        "ntm:rows": rows,
        "ntm:bytes": sum(f["bytes"] for f in files),
        "ntm:files": [dict(f) for f in files],
        "schema": resource_schema(arrow_schema, spec),
    }
    if not partitioned:
        res["hash"] = "sha256:" + files[0]["sha256"]
    else:
        res["ntm:partition_by"] = spec.partition_by
    return res


def package_descriptor(
    *,
    resources: list[dict[str, Any]],
    release_id: str,
    content_sha256: str,
    version: str,
    created: str,
    is_synthetic: bool,
    previous_release_id: str | None,
    home: HomeCommune | None = None,
) -> dict[str, Any]:
    """``home``: the commune the release is for (:func:`pipeline.publish.home.release_home`; default the
    configured one). Name ``ntm-<slug>-<code>``, titles, sources, publisher and keywords name it."""
    if home is None:
        from pipeline.config import home_commune as configured

        home = home_commune(configured())
    place_vi, place_en = home.place_vi, home.place_en
    title_vi = f"Dữ liệu mở chỉ tiêu nông thôn mới và chuyển đổi số - {place_vi} ({home.code})"
    title_en = (
        f"Open data on new-rural (NTM) and digital-transformation indicators - {place_en} ({home.code})"
    )
    desc = (
        f"Kết quả các chỉ tiêu nông thôn mới, chuyển đổi số, OCOP và khảo sát sự hài lòng của {home.division_vi} "
        f"{home.name} (Kế hoạch 2026-2030), công bố theo Nghị định 47/2020/NĐ-CP. / Results of the new-rural, "
        f"digital-transformation, OCOP and satisfaction-survey indicators of {home.name} {home.division_en} "
        "(2026-2030 plan), published under Decree 47/2020/ND-CP."
    )
    if is_synthetic:
        desc += " DỮ LIỆU MẪU TỔNG HỢP, KHÔNG PHẢI SỐ LIỆU THẬT. / SYNTHETIC SAMPLE DATA, NOT REAL FIGURES."
    return {
        "profile": PROFILE,
        "name": home.package_name,
        "id": f"{home.package_name}/{release_id}",
        "title": f"{title_vi} / {title_en}",
        "description": desc,
        "version": version,
        "created": created,
        "licenses": [LICENSE],
        "sources": sources(home),
        "contributors": [{"title": f"{home.committee_vi} / {home.committee_en}", "role": "publisher"}],
        "keywords": [
            "nông thôn mới",
            "new rural",
            "chuyển đổi số",
            "digital transformation",
            "OCOP",
            home.province_name,
            home.name,
        ],
        "language": ["vi", "en"],
        "ntm:release_id": release_id,
        "ntm:previous_release_id": previous_release_id,
        "ntm:content_sha256": content_sha256,
        "ntm:is_synthetic": is_synthetic,
        "resources": resources,
    }


def dumps(descriptor: dict[str, Any]) -> str:
    return json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"


def validate_descriptor(descriptor: dict[str, Any]) -> list[str]:
    """Cheap profile check of the descriptor alone (no data read). Returns error notes."""
    from frictionless import Package

    report = Package.validate_descriptor(descriptor)
    return [f"{e.type}: {e.note}" for e in report.flatten_errors()] if not report.valid else []


def validate_package(release_dir: Path) -> list[str]:
    """Full Frictionless validation of a release (reads the data). Returns error messages; [] = valid.

    Runs ``frictionless.validate`` on ``datapackage.json`` and, because Frictionless 5.21 reads only the
    first file of a multipart Parquet resource, validates every further part too, foreign keys included.
    """
    import frictionless

    release_dir = Path(release_dir)
    dp_path = release_dir / "datapackage.json"
    errors: list[str] = []
    report = frictionless.validate(str(dp_path))
    if not report.valid:
        errors += [f"{t.name}: {e.type}: {e.note or e.message}" for t in report.tasks for e in t.errors]
        errors += [f"package: {e.type}: {e.note or e.message}" for e in report.errors]
    dp = json.loads(dp_path.read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in dp["resources"]}
    for res in dp["resources"]:
        if isinstance(res["path"], list):
            # the part alone, with the resources its foreign keys reference (single files: the dimensions)
            refs = {fk["reference"]["resource"] for fk in res["schema"].get("foreignKeys", [])} - {
                res["name"]
            }
            for part in res["path"][1:]:
                part_res = {**res, "path": part}
                part_res.pop("hash", None)
                part_dp = {
                    "profile": PROFILE,
                    "resources": [part_res, *(by_name[n] for n in sorted(refs) if n in by_name)],
                }
                package = frictionless.Package.from_descriptor(part_dp, basepath=str(release_dir))
                rep = package.validate(name=res["name"])
                if not rep.valid:
                    errors += [
                        f"{res['name']}[{part}]: {e.type}: {e.note or e.message}"
                        for t in rep.tasks
                        for e in t.errors
                    ]
    return errors
