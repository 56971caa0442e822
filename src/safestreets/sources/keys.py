"""Stop-and-search keys: derived from what a stored row says, never stored.

The files carry no id for a stop and search, so its key is ``'s'`` + md5 of what the row says (force,
the instant as microseconds since 1970, the point to 17 significant digits, type, gender, age,
ethnicities, legislation, object and outcome as published), then ``#n`` from ``key_repeat`` for the later
rows of a file that say the same. The md5 of a million rows was a quarter of loading them, so the store
keeps only ``key_repeat`` and the view ``stop_searches_keyed`` (migration 0005) adds ``search_id``. The
text loses nothing, so rows with equal keys are the rows with equal ``stop_same`` values: loads number
and replace rows by those values and never compute an md5.
"""

from __future__ import annotations

STOP_KEY_VALUES = ("force", "occurred_at", "lat", "lon")
STOP_KEY_TEXT = ("search_type", "gender", "age_range", "self_defined_ethnicity", "officer_defined_ethnicity",
                 "legislation", "object_of_search", "outcome_raw")  # fmt: skip


def stop_key_sql(row: str = "") -> str:
    """``stop_searches_keyed.search_id`` as SQL over the columns of ``row`` (a table alias, or none)."""
    r = f"{row}." if row else ""
    parts = [
        f"{r}force", f"coalesce(CAST(epoch_us({r}occurred_at) AS VARCHAR), '')",
        f"coalesce(printf('%.17g', {r}lat), '')", f"coalesce(printf('%.17g', {r}lon), '')",
        *(f"coalesce({r}{c}, '')" for c in STOP_KEY_TEXT),
    ]  # fmt: skip
    return f"'s' || md5(concat_ws('|', {', '.join(parts)})) || coalesce('#' || {r}key_repeat, '')"


def stop_same(row: str = "") -> list[str]:
    """What a stop-and-search key says, as SQL over the columns of ``row``: rows equal in all of it are
    the rows whose keys are equal before the ``#n``."""
    r = f"{row}." if row else ""
    return [f"{r}{c}" for c in STOP_KEY_VALUES] + [f"coalesce({r}{c}, '')" for c in STOP_KEY_TEXT]
