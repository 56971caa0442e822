"""Places in the store: each load in one transaction, replacing what the same file loaded before.

``sources.places`` reads the files into Arrow tables; ``load_places`` writes them and records the batch.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from safestreets.errors import InputError
from safestreets.sources.places import PLACE_SCHEMA
from safestreets.store import one_row, register, transaction
from safestreets.store.batches import BatchRecord, find_live_batch, next_batch_id, record_batch


def load_places(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    *,
    source: str,
    sha256: str | None,
    params: dict[str, Any],
) -> int:
    """Write places in one transaction and return the batch id.

    The places an earlier load of the same ``source`` wrote with the same kinds are replaced; loading
    the same bytes with the same options again returns the earlier batch id and changes nothing.
    """
    missing = [c for c in PLACE_SCHEMA.names if c not in table.column_names]
    if missing:
        raise InputError(source, f"not a places table: missing columns {', '.join(missing)}")
    table = table.select(PLACE_SCHEMA.names).cast(PLACE_SCHEMA)
    if table.num_rows == 0:
        raise InputError(source, "no places to load")
    kinds = sorted(str(k) for k in pc.unique(table.column("kind")).to_pylist())
    with transaction(con):
        earlier = find_live_batch(con, "places", "places", sha256, params)
        if earlier is not None:
            return earlier
        batch_id = next_batch_id(con)
        (replaced,) = one_row(
            con,
            "DELETE FROM places WHERE list_contains($1::VARCHAR[], kind) AND batch_id IN "
            "(SELECT batch_id FROM batches WHERE kind = 'places' AND source = $2)",
            [kinds, source],
        )
        register(con, "_ss_incoming_places", table)
        try:
            con.execute(
                "INSERT INTO places SELECT place_id, kind, name, lon, lat, x, y, attributes::JSON, $1 "
                "FROM _ss_incoming_places",
                [batch_id],
            )
        finally:
            con.unregister("_ss_incoming_places")
        record_batch(
            con,
            batch_id,
            BatchRecord(
                kind="places",
                source=source,
                sha256=sha256,
                params=params,
                rows_read=table.num_rows,
                rows_loaded=table.num_rows,
                rows_replaced=int(replaced),
            ),
        )
    return batch_id
