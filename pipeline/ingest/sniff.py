"""Decide what a landed file is from its content (magic bytes, zip directory, decoded text), never its name.

:func:`sniff` tells an XLSX workbook, text, and known other formats (PDF, images, archives, old .xls)
apart from the first bytes; :func:`text_kind` tells JSON from CSV text. :data:`EXT_KIND` is what each
accepted file name promises, so a reader can report a file whose content and name disagree.
"""

from __future__ import annotations

import io
import zipfile

from pipeline.lib.decoding import UndecodableError, decode_bytes

#: magic bytes -> what the content is (the file type is decided by content, never by the name)
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
OTHER_MAGICS = (
    (b"%PDF", "PDF"),
    (b"\x89PNG", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF8", "GIF image"),
    (b"\x1f\x8b", "gzip archive"),
    (b"Rar!", "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
)
#: the kind each accepted file name promises
EXT_KIND = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "text",
    ".txt": "text",
    ".json": "json",
    ".jsonl": "json",
}
KIND_NAME = {
    "xlsx": "XLSX workbook",
    "text": "CSV text",
    "json": "JSON text",
    "binary": "binary data of no known type",
}


def sniff(data: bytes) -> tuple[str, str]:
    """(kind, what it is) from the first bytes: ``xlsx`` (a zip holding xl/workbook.xml), ``text`` (incl.
    UTF-8/UTF-16/UTF-32 BOMs; decoded later), or ``other`` (a known binary signature, a zip that is not a
    workbook, an old OLE2 .xls)."""
    if data.startswith(ZIP_MAGICS):
        try:
            names = {n.lower() for n in zipfile.ZipFile(io.BytesIO(data)).namelist()}
        except Exception:  # any damage of the container (BadZipFile, NotImplementedError, struct.error...)
            return "xlsx", "ZIP (corrupt)"  # read_xlsx reports it as truncated_file
        if "xl/workbook.xml" in names:
            return "xlsx", "XLSX workbook"
        kind = "Word .docx" if "word/document.xml" in names else "OpenDocument" if "mimetype" in names else ""
        return "other", f"ZIP archive, not an XLSX workbook{f' ({kind})' if kind else ''}"
    if data.startswith(OLE2_MAGIC):
        return "other", "old Excel 97-2003 .xls (OLE2) — save it as .xlsx"
    for magic, what in OTHER_MAGICS:
        if data.startswith(magic):
            return "other", what
    return "text", "text"


def text_kind(data: bytes) -> str:
    """``json`` when the decoded text starts with '{' or '[' (JSON / JSON lines), ``text`` (CSV) for other
    text, ``binary`` when the first 4 KiB do not decode as text at all."""
    try:
        t = decode_bytes(data[:4096]).text
    except UndecodableError:
        try:  # the head alone may mislead the detector: the whole file decides
            t = decode_bytes(data).text
        except UndecodableError:
            return "binary"
    t = t.lstrip("\ufeff \t\r\n")
    return "json" if t[:1] in ("{", "[") else "text"
