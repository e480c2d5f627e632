"""dbt's partial-parse state for a test's own warehouse, so that its pipeline runs do not parse the dbt project
in full.

The pipeline keeps dbt's partial-parse state beside the warehouse (``dbt_partial_parse.msgpack``,
pipeline/transform/assets.py ``_target_path``); without one, the state `make manifest` left in
dbt_project/target. dbt reuses a state only when, among others, its *profile hash* matches: a sha256 over
the profile's connection info, which holds the warehouse ``path``. `make run` always opens the same path, so
it parses only what changed; every test opens its own temporary warehouse, so every pipeline run of the suite
parsed the whole project again (about 3 s of CPU each, more on a busy machine; "Unable to do partial parsing
because profile has changed" in its log), a copied state included (:func:`tests.ops._support.copy_state`).

:func:`seed` writes, beside a test's warehouse, a state taken from a template (the one of `make manifest`, or
the one a copied build left) with the profile hash dbt computes for the new path; nothing else changes. dbt
still checks everything else (its version, vars, env vars, every file's checksum) and parses what differs.

Self-checking: the hash is recomputed for the template's own path first and must equal the one stored in it
(the recipe is dbt's own code, ``ManifestLoader.build_manifest_state_check``, here on dbt's profile loading);
when it does not (another dbt version computing it differently), nothing is written and dbt parses in full,
as before. A wrong state can therefore never be used: dbt would refuse it the same way.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pprint
from pathlib import Path

import msgpack

REPO = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO / "dbt_project"
#: the state `make manifest` leaves (for the repository's own warehouse path)
MANIFEST_STATE = DBT_PROJECT / "target" / "partial_parse.msgpack"
#: the file name the pipeline reads beside the warehouse (pipeline.transform.assets.PARSE_CACHE; a test holds
#: them equal)
PARSE_CACHE = "dbt_partial_parse.msgpack"


@functools.cache
def _connection_info(path: str) -> list:
    """What dbt hashes: the sorted connection info of profile ``ntm`` rendered with NTM_WAREHOUSE_PATH=path
    (the other variables as in this process's environment, which the tests' pipeline runs inherit)."""
    from argparse import Namespace

    from dbt.config.profile import Profile, read_profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.flags import set_from_args
    from dbt_common.context import set_invocation_context

    set_from_args(Namespace(PROFILES_DIR=str(DBT_PROJECT)), None)
    set_invocation_context({**os.environ, "NTM_WAREHOUSE_PATH": path})
    profile = Profile.from_raw_profiles(read_profile(str(DBT_PROJECT)), "ntm", ProfileRenderer({}))
    return sorted(profile.credentials.connection_info())


def profile_hash(path: str) -> str:
    """sha256 (hex) dbt stores as the profile hash of a parse with the warehouse at ``path``."""
    return hashlib.sha256(pprint.pformat(_connection_info(path)).encode("utf-8")).hexdigest()


def _unpack(data: bytes) -> dict:
    # extension types (dates) are kept as they are, so that the state packs back byte for byte
    return msgpack.unpackb(data, raw=False, ext_hook=msgpack.ExtType, strict_map_key=False)


def seed(warehouse: Path, template: Path | None = None, template_path: str | None = None) -> bool:
    """Write dbt's partial-parse state for ``warehouse`` beside it (``<dir>/dbt_partial_parse.msgpack``, where
    the pipeline looks for it), made from ``template`` (default: the state of `make manifest`, parsed for
    ``template_path``, default the repository's warehouse). True when written; False (nothing written) when
    there is no template or the template's stored hash is not the one recomputed for ``template_path``."""
    return write_state(warehouse.parent / PARSE_CACHE, warehouse, template, template_path)


def seed_target(target: Path, warehouse: Path) -> bool:
    """The same for a bare dbt call with ``--target-path target`` on ``warehouse`` (NTM_WAREHOUSE_PATH): the
    state in ``target/partial_parse.msgpack``, where dbt looks for it."""
    return write_state(target / "partial_parse.msgpack", warehouse)


def write_state(
    dest: Path, warehouse: Path, template: Path | None = None, template_path: str | None = None
) -> bool:
    """Write at ``dest`` the state of ``template`` (parsed for the warehouse ``template_path``) with the profile
    hash of ``warehouse``; False, writing nothing, when the template is missing or its stored hash is not the
    one recomputed for ``template_path`` (the self-check)."""
    template = template or MANIFEST_STATE
    if not template.is_file():
        return False
    state = _unpack(template.read_bytes())
    old = template_path or str(REPO / "warehouse" / "ntm.duckdb")
    try:
        if state["state_check"]["profile_hash"]["checksum"] != profile_hash(old):
            return False
    except (ImportError, AttributeError, KeyError, TypeError):  # another dbt: it parses in full, as before
        return False
    state["state_check"]["profile_hash"]["checksum"] = profile_hash(str(warehouse))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(msgpack.packb(state, use_bin_type=True))
    os.replace(tmp, dest)
    return True
