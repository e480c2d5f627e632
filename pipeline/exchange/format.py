"""The report package format's name and version: written by :mod:`.package`, checked by :mod:`.verify`."""

FORMAT_NAME = "ntm-commune-report"
FORMAT_VERSION = "1.0"
