"""OCOP product records: raw/ocop/** → raw.ocop_products; the star rule of QĐ 148/QĐ-TTg in ``rules.py``."""
