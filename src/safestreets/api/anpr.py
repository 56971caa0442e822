"""ANPR for the CLI and the dashboard: one object per workspace, a method per job (``Workspace.anpr``).

Reads and cameras in (validated, pseudonymised, stored all or nothing), hotlists and alerts (matched as
reads arrive, from a watched folder or a posted batch, and against history), access (a purpose for every
query, the default reach, authorisations past it), audited reveals of a plate, and retention.

A clear plate exists only in memory: between a file (or a posted batch) and its pseudonym, and in a reveal's
answer. The analytic store holds pseudonyms and sealed plates; the key that makes and opens them is a file
of its own (:mod:`safestreets.anpr.pseudonym`).
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from safestreets.anpr import access, alerts, hotlist, retention
from safestreets.anpr.pseudonym import PlateKey, load_key
from safestreets.config import anpr_settings
from safestreets.db import Database, audit
from safestreets.errors import AccessRefused, InputError, NotFoundError, ParameterError, SafestreetsError
from safestreets.sources import anpr as source
from safestreets.sources.csvread import ROW, header_of
from safestreets.store import anpr as store

if TYPE_CHECKING:
    from safestreets.api.workspace import Workspace

INBOX = "anpr/inbox"  # posted batches, pseudonymised, waiting for 'anpr watch' to store them
READ_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")
MIN_REASON = 10
#: The analyses ``Anpr.analyse`` runs, by the name the CLI and the dashboard use.
ANALYSES = {"journeys": "journeys", "flows": "flows", "county-lines": "county_lines", "co-travel": "co_travel"}


@dataclass(frozen=True)
class Arrival:
    """One batch of reads through the door: what was stored (or staged) and what it raised."""

    load: store.AnprLoad
    matched: alerts.Matched

    def to_dict(self) -> dict[str, Any]:
        return {**self.load.to_dict(), "alerts": self.matched.alerts,
                "alert_latency_ms": None if self.matched.latency_seconds is None
                else round(self.matched.latency_seconds * 1000, 1)}  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


class Anpr:
    """The ANPR jobs of one workspace (its store, its operational database, its key file, its settings)."""

    def __init__(self, ws: Workspace, db: Database | None = None) -> None:
        self.ws = ws
        self._db = db  # the dashboard passes its own; otherwise the workspace's
        self._key: PlateKey | None = None

    @property
    def db(self) -> Database:
        return self._db if self._db is not None else self.ws.db

    @property
    def settings(self) -> dict[str, float]:
        return anpr_settings(self.ws.root)

    @property
    def key(self) -> PlateKey:
        if self._key is None:
            self._key = load_key(self.ws.root, create=not self.ws.read_only)
        return self._key

    # --- loading -----------------------------------------------------------------------------------

    def load_cameras(self, path: str | Path, *, skip_bad_rows: bool = False, actor: str) -> store.AnprLoad:
        cams = source.read_cameras(path)
        result = store.load_cameras(self.ws.con, cams.table, cams.errors, label=str(path), sha256=cams.sha256,
                                    rows_read=cams.rows_read, skip_bad_rows=skip_bad_rows)  # fmt: skip
        if result.batch_id is not None:
            audit.record(self.db, actor=actor, action="change", target="anpr.cameras.load",
                         params=result.to_dict())  # fmt: skip
        return result

    def _pseudonymise(self, typed: pa.Table) -> tuple[pa.Table, pa.Table]:
        """(rows with ``vehicle`` instead of ``plate``, sealed plates of the vehicles the store lacks)."""
        plates = typed.column("plate")
        distinct = pc.unique(plates)
        vehicles = pa.array(self.key.vehicles(distinct.to_pylist()), pa.string())
        idx = pc.index_in(plates, value_set=distinct)
        rows = typed.drop_columns(["plate"]).add_column(1, "vehicle", pc.take(vehicles, idx))
        new = pc.invert(pc.is_in(vehicles, value_set=store.known_vehicles(self.ws.con, vehicles)))
        fresh = pc.filter(distinct, new).to_pylist()
        sealed = pa.table({"vehicle": pc.filter(vehicles, new),
                           "sealed": pa.array(self.key.seal_many(fresh), pa.binary())})  # fmt: skip
        return rows, sealed

    def _store(self, rows: pa.Table, sealed: pa.Table, errors: list, *, label: str, sha256: str,
               params: dict[str, Any], rows_read: int, columns: dict[str, str], skip_bad_rows: bool,
               out_of_order: int, now: datetime | None) -> store.AnprLoad:  # fmt: skip
        store.check_key(self.ws.con, self.key.key_id)
        s = self.settings
        return store.store_reads(self.ws.con, rows, sealed, errors, label=label, sha256=sha256, params=params,
                                 rows_read=rows_read, columns=columns, now=now or _now(),
                                 retention_days=int(s["retention_days"]), future_seconds=s["future_seconds"],
                                 skip_bad_rows=skip_bad_rows, out_of_order=out_of_order)  # fmt: skip

    def load(self, path: str | Path, *, mapping: str | Path | None = None, skip_bad_rows: bool = False,
             actor: str, now: datetime | None = None, arrived_at: datetime | None = None) -> Arrival:  # fmt: skip
        """Load one reads file (CSV or Parquet, or a batch the dashboard staged), then match its reads
        against the current hotlist."""
        arrived_at = arrived_at or _now()
        path = Path(path)
        raw = source.read_file(path)
        early: alerts.Matched | None = None
        if {"vehicle", "sealed"} <= set(raw.table.column_names):  # staged by the dashboard: already pseudonymised
            t = raw.table
            rows = t.select([ROW, "vehicle", "read_at", "camera_id", "direction", "confidence"])
            sealed = t.select(["vehicle", "sealed"]).filter(pc.is_valid(t.column("sealed")))
            result = self._store(rows, sealed, [], label=str(path), sha256=raw.sha256, params={"staged": True},
                                 rows_read=raw.rows_read, columns={"read_at": "read_at", "camera_id": "camera_id"},
                                 skip_bad_rows=True, out_of_order=0, now=now)  # fmt: skip
        else:
            m = source.read_mapping(mapping)
            if raw.rows_read == 0:
                raise InputError(path, "the file has no reads (a header, or nothing, but no data rows)")
            typed = source.type_reads(raw, m)
            rows, sealed = self._pseudonymise(typed.table)
            if skip_bad_rows:  # a live feed: alert before storing (the store's checks take longer)
                early = alerts.match(self.db, self._plausible(rows, now or _now())[0], arrived_at=arrived_at,
                                     now=now, actor=actor)  # fmt: skip
            result = self._store(rows, sealed, typed.errors, label=str(path), sha256=raw.sha256,
                                 params={"mapping": m.params()}, rows_read=raw.rows_read,
                                 columns={"read_at": m.columns.read_at, "camera_id": m.columns.camera_id},
                                 skip_bad_rows=skip_bad_rows, out_of_order=typed.out_of_order, now=now)  # fmt: skip
        matched = alerts.Matched(0, 0, arrived_at, None)
        if result.batch_id is not None:
            audit.record(self.db, actor=actor, action="change", target="anpr.reads.load",
                         params={k: v for k, v in result.to_dict().items() if k != "rejected_by_reason"})  # fmt: skip
            stored = self.ws.con.sql(
                f"SELECT vehicle, read_at, camera_id FROM anpr_reads WHERE batch_id = {int(result.batch_id)}"
            ).to_arrow_table()
            matched = alerts.match(self.db, stored, arrived_at=arrived_at, now=now, actor=actor)
            if early is not None and early.alerts:  # what the stored reads add to the early alerts (usually none)
                matched = alerts.Matched(matched.reads, early.alerts + matched.alerts, arrived_at, early.stored_at)
        return Arrival(result, matched)

    def _plausible(self, rows: pa.Table, now: datetime) -> tuple[pa.Table, list]:
        """Rows from known cameras, not in the future nor past retention (the checks a match needs first),
        and the others as (row, field, reason, value)."""
        cams = self.ws.con.sql("SELECT camera_id FROM anpr_cameras").to_arrow_table().column(0)
        s = self.settings
        known = pc.is_in(rows.column("camera_id"), value_set=cams)
        future = pc.greater(rows.column("read_at"), pa.scalar(now + timedelta(seconds=s["future_seconds"]),
                                                              rows.schema.field("read_at").type))  # fmt: skip
        old = pc.less(rows.column("read_at"), pa.scalar(now - timedelta(days=s["retention_days"]),
                                                        rows.schema.field("read_at").type))  # fmt: skip
        good = pc.and_(known, pc.invert(pc.or_(future, old)))
        bad = rows.filter(pc.invert(good))  # few: only these are looked at one by one
        errors, names = [], set(cams.to_pylist())
        for r, cam, at in zip(*(bad.column(c).to_pylist() for c in (ROW, "camera_id", "read_at")), strict=True):
            if cam not in names:
                errors.append((r, "camera_id", "no such camera", cam))
            elif at > now + timedelta(seconds=s["future_seconds"]):
                errors.append((r, "read_at", "in the future", at.isoformat()))
            else:
                errors.append((r, "read_at", "older than the retention period", at.isoformat()))
        return rows.filter(good), errors

    def receive(self, body: bytes, content_type: str, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
        """A batch posted to the dashboard (JSON records or CSV, clear plates): checked, pseudonymised, matched
        at once (alerts within the request), then staged in the workspace's inbox for 'anpr watch' to store.
        The staged file holds pseudonyms and sealed plates only."""
        arrived_at = _now()
        now = now or arrived_at
        table = _parse_batch(body, content_type)
        raw = source.RawFile(Path("posted batch"), table, hashlib.sha256(body).hexdigest(), table.num_rows, [])
        typed = source.type_reads(raw)
        rows, sealed = self._pseudonymise(typed.table)
        rows, errors = self._plausible(rows, now)
        errors = list(typed.errors) + errors
        matched = alerts.match(self.db, rows, arrived_at=arrived_at, now=now, actor=actor)
        staged = None
        if rows.num_rows:
            inbox = self.ws.root / INBOX
            inbox.mkdir(parents=True, exist_ok=True)
            # Every row, with the sealed plate where the store lacks it (a known vehicle's is already there).
            out = rows.drop_columns([ROW]).join(sealed, "vehicle", join_type="left outer")
            name = f"{arrived_at:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}.parquet"
            pq.write_table(out, inbox / f".{name}")
            (inbox / f".{name}").rename(inbox / name)  # whole, or not there: the watcher never reads half a file
            staged = name
        audit.record(self.db, actor=actor, action="change", target="anpr.reads.receive",
                     params={"rows": table.num_rows, "accepted": rows.num_rows, "rejected": len({e[0] for e in errors}),
                             "alerts": matched.alerts, "staged": staged})  # fmt: skip
        return {"received": table.num_rows, "accepted": rows.num_rows, "alerts": matched.alerts,
                "alert_latency_ms": None if matched.latency_seconds is None else round(matched.latency_seconds * 1000, 1),
                "staged": staged,
                "rejected": [{"row": r, "field": c, "reason": reason} for r, c, reason, _ in sorted(errors, key=lambda e: e[0])]}  # fmt: skip

    def watch(self, folder: str | Path, *, actor: str, once: bool = False, mapping: str | Path | None = None,
              stop: Callable[[], bool] | None = None) -> Iterator[tuple[Path, Arrival | SafestreetsError]]:  # fmt: skip
        """Poll ``folder`` for reads files; load and match each new one (bad rows set aside, never stopping the
        watch), then move it to ``done/`` (or ``failed/`` when refused whole). Files whose names start with a
        dot or end in .part or .tmp are still being written and are left alone."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ParameterError(f"{folder}: not a folder")
        poll = self.settings["poll_seconds"]
        while True:
            ready = sorted(p for p in folder.iterdir() if p.is_file() and _ready(p))
            for path in ready:
                arrived = _now()
                try:
                    outcome: Arrival | SafestreetsError = self.load(path, mapping=mapping, skip_bad_rows=True,
                                                                    actor=actor, arrived_at=arrived)  # fmt: skip
                    target = folder / "done"
                except SafestreetsError as exc:
                    outcome, target = exc, folder / "failed"
                target.mkdir(exist_ok=True)
                path.rename(target / path.name)
                yield path, outcome
            if ready:
                # Let go of the store between passes: a watcher that held it would keep the dashboard on an
                # old snapshot and every other command waiting for the lock.
                self.ws.close()
            if once or (stop is not None and stop()):
                return
            time.sleep(poll)

    # --- hotlists and alerts ---------------------------------------------------------------------

    def hotlist_add(self, plate: str, *, reason: str | None, source: str | None, expires_at: datetime | None,
                    actor: str) -> hotlist.Entry:  # fmt: skip
        return hotlist.add(self.db, self.key, plate, reason=reason, source=source, expires_at=expires_at,
                           actor=actor)  # fmt: skip

    def hotlist_import(self, path: str | Path, *, actor: str) -> list[hotlist.Entry]:
        """Entries from a CSV with plate, reason, source, expires: all of them or none."""
        import csv

        path = Path(path)
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read the file ({exc})") from None
        if not rows:
            raise InputError(path, "no entries (a header with plate, reason, source, expires, then rows)")
        missing = {"plate", "reason", "source", "expires"} - set(rows[0])
        if missing:
            raise InputError(path, "a hotlist file needs plate, reason, source and expires", row=0,
                             column=sorted(missing)[0])  # fmt: skip
        return hotlist.add_many(self.db, self.key, rows, label=str(path), actor=actor)

    def hotlist_remove(self, entry_id: int, *, actor: str) -> hotlist.Entry:
        return hotlist.remove(self.db, entry_id, actor=actor)

    def hotlist(self, *, actor: str, current_only: bool = False) -> list[hotlist.Entry]:
        found = hotlist.entries(self.db, current_at=_now() if current_only else None)
        audit.record(self.db, actor=actor, action="view", target="anpr.hotlist", params={"entries": len(found)})
        return found

    def match_history(self, *, actor: str, purpose: str, since: datetime | None = None,
                      until: datetime | None = None, now: datetime | None = None) -> alerts.Matched:  # fmt: skip
        """Match the current hotlist against stored reads from ``since`` (default: the reach)."""
        now = now or _now()
        reach = self.settings["reach_days"]
        since = since or now - timedelta(days=reach)
        access.check_query(self.db, actor=actor, purpose=purpose, since=since, until=until,
                           what="anpr.match-history", reach_days=reach, now=now)  # fmt: skip
        vehicles = sorted({e.vehicle for e in hotlist.entries(self.db, current_at=now)})
        reads = store.reads_of(self.ws.con, vehicles, since, until)
        return alerts.match(self.db, reads, arrived_at=now, kind="history", now=now, actor=actor)

    def alerts(self, *, actor: str, after_id: int = 0, open_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        found = alerts.alerts(self.db, after_id=after_id, open_only=open_only, limit=limit)
        if found:  # a poll that brings nothing new shows nothing: only what was shown is recorded
            audit.record(self.db, actor=actor, action="view", target="anpr.alerts",
                         params={"alerts": [a["id"] for a in found]})  # fmt: skip
        return found

    def acknowledge(self, alert_id: int, *, actor: str) -> None:
        alerts.acknowledge(self.db, alert_id, actor=actor)

    # --- access, queries and reveals ----------------------------------------------------------------

    def authorise(self, username: str, *, reason: str, reach_from: datetime, expires_at: datetime,
                  actor: str) -> access.Authorisation:  # fmt: skip
        s = self.settings
        oldest = _now() - timedelta(days=s["retention_days"])
        if reach_from < oldest:
            raise ParameterError(f"reach_from is before the retention period ({oldest:%Y-%m-%d}): nothing is kept")
        return access.authorise(self.db, username, reason=reason, reach_from=reach_from,
                                expires_at=expires_at, actor=actor)  # fmt: skip

    def query_window(self, *, actor: str, purpose: str, since: datetime, until: datetime | None = None,
                     what: str, now: datetime | None = None) -> access.Authorisation | None:  # fmt: skip
        """Check and log one query of reads from ``since``: analyses call this before they read."""
        return access.check_query(self.db, actor=actor, purpose=purpose, since=since, until=until, what=what,
                                  reach_days=self.settings["reach_days"], now=now)  # fmt: skip

    def analyse(self, kind: str, *, actor: str, purpose: str, since: datetime | None = None,
                until: datetime | None = None, now: datetime | None = None, **options: Any) -> Any:  # fmt: skip
        """One of the analyses (journeys, flows, county-lines, co-travel) over the reads in ``[since, until)``:
        the window is checked against the reach and logged with its purpose first, as every query is, and
        the analysis sees nothing outside it. ``options`` go to :mod:`safestreets.api.anpr_analyses`
        (engine, master, gap_minutes, metro_areas, params, evidence)."""
        from safestreets.api import anpr_analyses

        run = ANALYSES.get(kind)
        if run is None:
            raise ParameterError(f"analysis: {kind!r} is not one of {', '.join(ANALYSES)}")
        now = now or _now()
        since = since or now - timedelta(days=self.settings["reach_days"])
        self.query_window(actor=actor, purpose=purpose, since=since, until=until, what=f"anpr.analysis:{kind}",
                          now=now)  # fmt: skip
        options.setdefault("spark_dir", self.ws.outputs)
        with anpr_analyses.windowed(self.ws.con, since, until) as con:
            return getattr(anpr_analyses, run)(con, **options)

    def vehicle_of(self, plate: str) -> str:
        """The pseudonym a plate has in this workspace (nothing is looked up, nothing stored)."""
        problem = source.plate_problem(plate)
        if problem:
            raise ParameterError(f"plate: {problem}")
        return self.key.vehicle(source.normalise_plate(plate) or "")

    def vehicle_reads(self, vehicle: str, *, actor: str, purpose: str, since: datetime | None = None,
                      until: datetime | None = None, now: datetime | None = None) -> pa.Table:  # fmt: skip
        """One vehicle's reads (by pseudonym, or a plate matched to its pseudonym), within the reach."""
        now = now or _now()
        vehicle = vehicle if _is_pseudonym(vehicle) else self.vehicle_of(vehicle)
        since = since or now - timedelta(days=self.settings["reach_days"])
        self.query_window(actor=actor, purpose=purpose, since=since, until=until, what=f"anpr.vehicle:{vehicle}",
                          now=now)  # fmt: skip
        return store.reads_of(self.ws.con, [vehicle], since, until)

    def reveal(self, *, actor: str, reason: str, vehicle: str | None = None, entry: int | None = None) -> str:
        """The clear plate behind a pseudonym (from the store) or a hotlist entry, for a stated reason. Callers
        check the role first (the dashboard: admin); every reveal, and every refusal, is audited."""
        target = f"anpr.reveal:{vehicle or f'entry {entry}'}"
        if not reason or len(reason.strip()) < MIN_REASON:
            audit.record(self.db, actor=actor, action="reveal", target=target, params={"reason": reason or ""},
                         outcome="denied")  # fmt: skip
            raise AccessRefused(f"a reveal needs a reason (at least {MIN_REASON} characters)")
        if entry is not None:
            _, sealed = hotlist.sealed_of(self.db, entry)
        elif vehicle is not None:
            found = store.sealed_plates(self.ws.con, [vehicle])
            if vehicle not in found:
                raise NotFoundError(f"no vehicle {vehicle} in the store (purged, or never read)")
            sealed = found[vehicle]
        else:
            raise ParameterError("name a vehicle or a hotlist entry to reveal")
        plate = self.key.open(sealed)
        audit.record(self.db, actor=actor, action="reveal", target=target, params={"reason": reason.strip()})
        return plate

    def is_vehicle(self, plate: str, vehicle: str, *, actor: str, purpose: str) -> bool:
        """Whether ``plate`` is the vehicle behind ``vehicle``: a match, with no plate shown (audited)."""
        same = self.vehicle_of(plate) == vehicle
        audit.record(self.db, actor=actor, action="query", target=f"anpr.match:{vehicle}",
                     params={"purpose": purpose, "match": same})  # fmt: skip
        return same

    # --- retention and status ------------------------------------------------------------------------

    def purge(self, *, actor: str, dry_run: bool = False, now: datetime | None = None) -> retention.Purge:
        return retention.purge(self.ws.con, self.db, retention_days=self.settings["retention_days"],
                               actor=actor, now=now, dry_run=dry_run)  # fmt: skip

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {**store.summary(self.ws.con), "retention_days": s["retention_days"], "reach_days": s["reach_days"]}


def _is_pseudonym(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def _ready(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and not name.endswith((".part", ".tmp")) and name.endswith(READ_SUFFIXES)


MAX_BATCH = 100_000


def _parse_batch(body: bytes, content_type: str) -> pa.Table:
    """A posted batch as an Arrow table of text columns with ``_row``: JSON (a list of objects, or
    ``{"reads": [...]}``) or CSV with a header."""
    import pyarrow.csv as pacsv

    label = "posted batch"
    if not body.strip():
        raise InputError(label, "the batch is empty")
    if content_type.startswith("text/csv"):
        names = header_of(body, label)
        try:  # every column as text: a plate of digits only must keep its leading zeros
            table = pacsv.read_csv(io.BytesIO(body), convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False))  # fmt: skip
        except pa.ArrowInvalid as exc:
            raise InputError(label, f"cannot parse as CSV: {str(exc).splitlines()[0]}") from None
    else:
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(label, f"not JSON: {exc}") from None
        records = data.get("reads") if isinstance(data, dict) else data
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise InputError(label, 'expected a list of reads (objects), or {"reads": [...]}')
        names = ["plate", "read_at", "camera_id", "direction", "confidence"]
        table = pa.table({n: pa.array([None if r.get(n) is None else str(r.get(n)) for r in records], pa.string())
                          for n in names})  # fmt: skip
    if table.num_rows > MAX_BATCH:
        raise InputError(label, f"a batch holds at most {MAX_BATCH:,} reads; this one {table.num_rows:,}")
    return table.append_column(ROW, pa.array(range(1, table.num_rows + 1), pa.int64()))
