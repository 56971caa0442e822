"""Two engines, one result: DuckDB embedded (the default) and Apache Spark (local, a cluster master or
Spark Connect), both behind one small interface.

Every analysis is written once, as SQL both engines run (:mod:`safestreets.anpr.analyses.queries`). The
only per-engine text is :attr:`Engine.functions`: how to turn a ``TIMESTAMP WITH TIME ZONE`` into epoch
seconds, in UTC and on the local wall clock. Everything after that works on whole seconds with
arithmetic, window functions and ``min_by``/``max_by``, which DuckDB and Spark SQL spell alike.

An engine needs two tables: ``anpr_reads(vehicle, read_at, camera_id)`` and ``anpr_cameras(camera_id, x,
y, lon, lat, road, area_code)``. In DuckDB they are the store's tables (or anything registered under those
names); Spark reads them from Parquet (:meth:`SparkEngine.register_parquet`) or from Arrow.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from safestreets.errors import ParameterError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TZ = re.compile(r"[A-Za-z_]+(/[A-Za-z_+-]+)*")


class Engine(ABC):
    """Runs named SQL steps and returns Arrow. ``functions`` maps the few dialect-specific expressions."""

    name: str

    def __init__(self, timezone: str = "Europe/London") -> None:
        if not _TZ.fullmatch(timezone):
            raise ParameterError(f"ANPR analyses: not a time zone name: {timezone!r}")
        self.timezone = timezone

    @property
    @abstractmethod
    def functions(self) -> dict[str, str]:
        """``epoch``: UTC epoch seconds of ``{col}``; ``local_epoch``: the same on the local wall clock."""

    @abstractmethod
    def execute(self, sql: str) -> None: ...

    @abstractmethod
    def query(self, sql: str) -> pa.Table: ...

    @abstractmethod
    def register_arrow(self, name: str, table: pa.Table) -> None: ...

    def result(self, sql: str) -> pa.Table:
        """``query`` with the types both engines agree on: decimals as int64 or float64, timestamps in
        microseconds UTC, every field nullable."""
        return normalise(self.query(sql))

    def view(self, name: str, select: str) -> None:
        if not _NAME.fullmatch(name):
            raise ParameterError(f"ANPR analyses: bad view name {name!r}")
        self.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")

    def table(self, name: str, select: str) -> None:
        """A step computed once and kept for the session (later steps read it more than once)."""
        if not _NAME.fullmatch(name):
            raise ParameterError(f"ANPR analyses: bad table name {name!r}")
        self.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    def fn(self, key: str, col: str) -> str:
        return self.functions[key].format(col=col, tz=self.timezone)

    def close(self) -> None:  # noqa: B027 - engines that own nothing need not override it
        pass


class DuckDBEngine(Engine):
    """The embedded engine: a DuckDB connection (the workspace store, or an in-memory one for tests)."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection | None = None, timezone: str = "Europe/London") -> None:
        super().__init__(timezone)
        self.con = con if con is not None else duckdb.connect()

    @property
    def functions(self) -> dict[str, str]:
        return {
            "epoch": "CAST(FLOOR(epoch({col})) AS BIGINT)",
            "local_epoch": "CAST(FLOOR(epoch(timezone('{tz}', {col}))) AS BIGINT)",
        }

    def execute(self, sql: str) -> None:
        self.con.execute(sql).fetchall()  # read to the end: the connection is then free for the next

    def query(self, sql: str) -> pa.Table:
        _finish(self.con)
        return self.con.sql(sql).to_arrow_table()

    def register_arrow(self, name: str, table: pa.Table) -> None:
        _finish(self.con)
        self.con.register(name, table)

    def register_parquet(self, name: str, path: str | Path) -> None:
        src = Path(path)
        pattern = str(src / "*.parquet") if src.is_dir() else str(src)
        self.view(name, f"SELECT * FROM read_parquet('{_quote(pattern)}')")


class SparkEngine(Engine):
    """Apache Spark: ``local[2]``, a cluster master URL, or a Spark Connect URL (``sc://host:15002``).

    The session runs in UTC, so epoch seconds and the local clock are computed the same way as DuckDB's.
    """

    name = "spark"

    def __init__(self, session: Any, timezone: str = "Europe/London") -> None:
        super().__init__(timezone)
        self.spark = session
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")

    @classmethod
    def start(cls, master: str = "local[2]", *, timezone: str = "Europe/London",
              shuffle_partitions: int | None = None, driver_memory: str = "2g") -> SparkEngine:
        """A session for ``master``; a URL starting ``sc://`` is Spark Connect."""
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise ParameterError(
                "the Spark engine needs PySpark: install safestreets[spark] (and a Java runtime)"
            ) from None
        builder = SparkSession.builder.appName("safestreets-anpr")
        if master.startswith("sc://"):
            builder = builder.remote(master)
        else:
            cores = re.fullmatch(r"local\[(\d+|\*)\]", master)
            parts = shuffle_partitions or (2 * int(cores.group(1)) if cores and cores.group(1) != "*" else 200)
            builder = (
                builder.master(master)
                .config("spark.sql.shuffle.partitions", str(parts))
                .config("spark.ui.enabled", "false")
                .config("spark.driver.memory", driver_memory)
                .config("spark.sql.session.timeZone", "UTC")
            )
        return cls(builder.getOrCreate(), timezone)

    @property
    def functions(self) -> dict[str, str]:
        return {
            "epoch": "unix_timestamp({col})",
            "local_epoch": "unix_timestamp(from_utc_timestamp({col}, '{tz}'))",
        }

    def execute(self, sql: str) -> None:
        self.spark.sql(sql)

    def table(self, name: str, select: str) -> None:
        if not _NAME.fullmatch(name):
            raise ParameterError(f"ANPR analyses: bad table name {name!r}")
        self.spark.sql(f"UNCACHE TABLE IF EXISTS {name}")
        self.spark.sql(f"DROP VIEW IF EXISTS {name}")
        self.spark.sql(f"CACHE TABLE {name} AS {select}")

    def query(self, sql: str) -> pa.Table:
        return self.spark.sql(sql).toArrow()

    def register_arrow(self, name: str, table: pa.Table) -> None:
        if not _NAME.fullmatch(name):
            raise ParameterError(f"ANPR analyses: bad table name {name!r}")
        self.spark.createDataFrame(table).createOrReplaceTempView(name)

    def register_parquet(self, name: str, path: str | Path) -> None:
        if not _NAME.fullmatch(name):
            raise ParameterError(f"ANPR analyses: bad table name {name!r}")
        self.spark.read.parquet(str(path)).createOrReplaceTempView(name)

    def close(self) -> None:
        self.spark.stop()


def normalise(table: pa.Table) -> pa.Table:
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_decimal(t):
            t = pa.int64() if t.scale == 0 else pa.float64()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz="UTC")
        elif pa.types.is_integer(t):
            t = pa.int64()
        fields.append(pa.field(f.name, t, nullable=True))
    return table.cast(pa.schema(fields))


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    """Finish a result a caller left half-read on a shared connection (newer DuckDB insists)."""
    complete = getattr(con, "complete", None)
    if complete is not None:
        complete()


def _quote(text: str) -> str:
    return text.replace("'", "''")
