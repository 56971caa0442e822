"""A tiny ANPR fixture: a workspace with three cameras, and helpers that write reads files as the synthetic
generator (and a back office) write them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from safestreets.api import Workspace

CAMERAS = (
    "camera_id,lon,lat,road,direction,name\n"
    "C1,-0.1000,51.5000,A1,N,High St north\n"
    "C2,-0.0900,51.5100,A1,S,High St south\n"
    "C3,-0.0800,51.5200,M25,E,Junction 27\n"
)
NOW = datetime.now(UTC).replace(microsecond=0)


def when(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def write_reads(path: Path, rows: Sequence[tuple[str, datetime | str, str, str | None, float | str | None]]) -> Path:
    """Rows (plate, read_at, camera_id, direction, confidence) as Parquet (typed, like the generator) or CSV."""
    if path.suffix == ".parquet":
        pq.write_table(pa.table({
            "plate": pa.array([r[0] for r in rows], pa.string()),
            "read_at": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            "camera_id": pa.array([r[2] for r in rows], pa.string()),
            "direction": pa.array([r[3] for r in rows], pa.string()),
            "confidence": pa.array([r[4] for r in rows], pa.float64()),
        }), path)  # fmt: skip
        return path
    lines = ["plate,read_at,camera_id,direction,confidence"]
    for plate, at, cam, d, conf in rows:
        at_txt = at.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(at, datetime) else at
        lines.append(f"{plate},{at_txt},{cam},{d or ''},{'' if conf is None else conf}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.delenv("SAFESTREETS_ANPR_KEY", raising=False)
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    w = Workspace.init(tmp_path / "ws")
    cams = tmp_path / "cameras.csv"
    cams.write_text(CAMERAS, "utf-8")
    w.anpr.load_cameras(cams, actor="test")
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def ows(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """The ``ws`` workspace with its operational database on SQLite, then on a PostgreSQL database of its own
    (skipped without a server unless SAFESTREETS_REQUIRE_POSTGRES=1, as tests/db does)."""
    monkeypatch.delenv("SAFESTREETS_ANPR_KEY", raising=False)
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    admin = name = None
    if request.param == "postgresql":
        import secrets

        import sqlalchemy as sa

        from db.conftest import ADMIN_URL, _postgres_admin

        admin = _postgres_admin()
        if admin is None:
            pytest.skip(f"no PostgreSQL server at {ADMIN_URL}")
        name = f"safestreets_test_{secrets.token_hex(6)}"
        with admin.connect() as c:  # type: ignore[attr-defined]
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        monkeypatch.setenv("SAFESTREETS_DATABASE_URL", ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    w = Workspace.init(tmp_path / "ws")
    cams = tmp_path / "cameras.csv"
    cams.write_text(CAMERAS, "utf-8")
    w.anpr.load_cameras(cams, actor="test")
    try:
        yield w
    finally:
        w.close()
        if admin is not None:
            import sqlalchemy as sa

            with admin.connect() as c:  # type: ignore[attr-defined]
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()  # type: ignore[attr-defined]
