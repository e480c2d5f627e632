"""Pure helpers shared by the ingest assets: text decoding and keys, value parsing, reporting periods."""
