"""The report package format's name and version: written by :mod:`.package`, checked by :mod:`.verify`."""

FORMAT_NAME = "ntm-commune-report"
FORMAT_VERSION = "1.0"
# every table travels twice: resource "<table>" (Parquet) and its CSV twin "<table>-csv", same rows
CSV_SUFFIX = "-csv"


def resource_schema(schema: dict, suffix: str = "", keep: set[str] | None = None) -> dict:
    """A package resource's Table Schema from the release resource's ``schema``: the same fields and keys,
    foreign keys only to the resources in ``keep`` (all when None), pointing at ``<resource><suffix>`` (the
    CSV twins point at each other). The Parquet resource has ``suffix`` "", its CSV twin :data:`CSV_SUFFIX`."""
    out = {k: v for k, v in schema.items() if k != "foreignKeys"}
    fks = [
        {**fk, "reference": {**fk["reference"], "resource": fk["reference"]["resource"] + suffix}}
        for fk in schema.get("foreignKeys") or []
        if keep is None or fk["reference"]["resource"] in keep
    ]
    if fks:
        out["foreignKeys"] = fks
    return out
