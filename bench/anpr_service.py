"""ANPR reads in and alerts out: load rate of reads files, hotlist matching, and alert latency.

A fresh workspace gets 500 cameras and N synthetic reads (default 1,000,000, about 100,000 vehicles, over the
last 30 days) in the format the synthetic generator writes (Parquet: plate, read_at, camera_id, direction,
confidence) and, for comparison, the same reads as CSV. Measured:

* **load**: ``Workspace.anpr.load`` on each file: read, check every row, pseudonymise (HMAC-SHA256) every
  distinct plate and seal (secretbox) those new to the store, check cameras, times and duplicates against the store, store in one
  transaction, match against the hotlist; reads per second;
* **alert latency, posted batch**: batches of 500 reads, one of them hotlisted, through
  ``Anpr.receive`` (what ``POST /api/anpr/reads`` calls, without HTTP): from the batch's arrival to its
  alert being stored in the operational database; median and worst of 50;
* **alert latency, watched folder**: files of 10,000 reads dropped into a folder ``Anpr.watch`` polls: from
  the watcher noticing the file to its alert stored (reading, checking and pseudonymising the file included;
  the watcher alerts before it stores, and the poll interval, 0.5 s by default, comes on top);
* **history match**: the 10,000-entry hotlist (200 of them vehicles in the reads) against every stored
  read within the 90-day reach;
* **purge (dry run)**: counting what retention would delete.

Writes the "ANPR reads and alerts" section of docs/benchmarks.md.

    .venv/bin/python bench/anpr_service.py [--reads 1000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import string
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
from _common import command_line, fmt_rate, machine_markdown, markdown_table, median, today, write_section

TITLE = "ANPR reads and alerts"
LETTERS = np.array(list(string.ascii_uppercase))
DIGITS = np.array(list(string.digits))


def plates(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` current-format plates (AB12 CDE)."""
    parts = [LETTERS[rng.integers(0, 26, n)], LETTERS[rng.integers(0, 26, n)], DIGITS[rng.integers(0, 10, n)],
             DIGITS[rng.integers(0, 10, n)], np.full(n, " "), LETTERS[rng.integers(0, 26, n)],
             LETTERS[rng.integers(0, 26, n)], LETTERS[rng.integers(0, 26, n)]]  # fmt: skip
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(out, p)
    return out


def reads_table(n: int, fleet: np.ndarray, cameras: int, now: datetime, rng: np.random.Generator) -> pa.Table:
    start = (now - timedelta(days=30)).timestamp()
    at = np.sort(rng.uniform(start, now.timestamp() - 60, n))
    return pa.table({
        "plate": pa.array(fleet[rng.integers(0, len(fleet), n)]),
        "read_at": pa.array((at * 1e6).astype("int64"), pa.timestamp("us", tz="UTC")),
        "camera_id": pa.array(np.char.add("CAM", rng.integers(0, cameras, n).astype(str))),
        "direction": pa.array(rng.choice(np.array(["N", "S", "E", "W"]), n)),
        "confidence": pa.array(np.round(rng.uniform(0.6, 1.0, n), 3)),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=500)
    args = parser.parse_args()
    from safestreets.api import Workspace

    load_before = os.getloadavg()
    rng = np.random.default_rng(19)
    now = datetime.now(UTC).replace(microsecond=0)
    tmp = Path(tempfile.mkdtemp(prefix="anpr-bench-"))
    os.environ.pop("SAFESTREETS_DATABASE_URL", None)
    os.environ.pop("SAFESTREETS_ANPR_KEY", None)
    try:
        cams = tmp / "cameras.csv"
        lon, lat = rng.uniform(-0.3, 0.1, args.cameras), rng.uniform(51.4, 51.6, args.cameras)
        cams.write_text("camera_id,lon,lat,road,direction\n" + "".join(
            f"CAM{i},{lon[i]:.5f},{lat[i]:.5f},A{i % 40},N\n" for i in range(args.cameras)), "utf-8")  # fmt: skip
        fleet = plates(max(args.reads // 10, 1000), rng)
        table = reads_table(args.reads, fleet, args.cameras, now, rng)
        parquet, csv = tmp / "reads.parquet", tmp / "reads.csv"
        pq.write_table(table, parquet)
        half = reads_table(args.reads // 2, fleet, args.cameras, now, np.random.default_rng(20))
        pacsv.write_csv(half, csv)
        rows: list[list[str]] = []
        with Workspace.init(tmp / "ws") as ws:
            a = ws.anpr
            a.load_cameras(cams, actor="bench")
            # A hotlist of 10,000 entries, 200 of them vehicles in the reads (one vehicle in 500).
            listed = np.concatenate([fleet[rng.choice(len(fleet), 200, replace=False)],
                                     plates(9_800, np.random.default_rng(7))])  # fmt: skip
            hot_csv = tmp / "hotlist.csv"
            hot_csv.write_text("plate,reason,source,expires\n" + "".join(
                f"{p},benchmark entry {i},bench,{(now + timedelta(days=7)).date()}\n" for i, p in enumerate(listed)),
                "utf-8")  # fmt: skip
            t0 = time.perf_counter()
            a.hotlist_import(hot_csv, actor="bench")
            rows.append(["hotlist import (10,000 entries)", f"{time.perf_counter() - t0:.1f} s", "", ""])
            for label, path, n in (("Parquet", parquet, args.reads), ("CSV", csv, args.reads // 2)):
                t0 = time.perf_counter()
                got = a.load(path, actor="bench", skip_bad_rows=True)
                dt = time.perf_counter() - t0
                rows.append([f"load {label} ({n:,} reads)", f"{dt:.1f} s", fmt_rate(n, dt),
                             f"{got.load.rows_loaded:,} stored, {got.load.rows_rejected:,} set aside, "
                             f"{got.matched.alerts:,} alerts"])  # fmt: skip
            t0 = time.perf_counter()
            m = a.match_history(actor="bench", purpose="benchmark history match")
            dt = time.perf_counter() - t0
            rows.append(["history match (10,000 entries, 90-day reach)", f"{dt:.2f} s", "",
                         f"{m.reads:,} reads of listed vehicles"])  # fmt: skip
            t0 = time.perf_counter()
            p = a.purge(actor="bench", dry_run=True)
            rows.append(["purge, dry run", f"{time.perf_counter() - t0:.2f} s", "", f"{p.reads:,} reads due"])

            # Posted batches: 500 reads, one hotlisted.
            hot = a.hotlist_add("BE19NCH", reason="benchmark latency entry", source="bench",
                                expires_at=now + timedelta(days=1), actor="bench")  # fmt: skip
            lat: list[float] = []
            for i in range(50):
                b = reads_table(500, fleet, args.cameras, now, np.random.default_rng(100 + i))
                b = b.set_column(0, "plate", pa.array(["BE19 NCH", *b.column("plate").to_pylist()[1:]]))
                lines = ["plate,read_at,camera_id,direction,confidence"] + [
                    f"{r['plate']},{r['read_at'].isoformat()},{r['camera_id']},{r['direction']},{r['confidence']}"
                    for r in b.to_pylist()]  # fmt: skip
                out = a.receive("\n".join(lines).encode(), "text/csv", actor="bench")
                assert out["alerts"] >= 1, out
                lat.append(out["alert_latency_ms"])
            rows.append(["alert latency, posted batch of 500 (50 batches)", f"{median(lat):.0f} ms median",
                         "", f"worst {max(lat):.0f} ms"])  # fmt: skip
            shutil.rmtree(tmp / "ws" / "anpr" / "inbox", ignore_errors=True)

            # Watched folder: 5 files of 10,000 reads, each with one read of the listed vehicle.
            folder = tmp / "drop"
            folder.mkdir()
            wl: list[float] = []
            for i in range(5):
                b = reads_table(10_000, fleet, args.cameras, now, np.random.default_rng(200 + i))
                b = b.set_column(0, "plate", pa.array(["BE19NCH", *b.column("plate").to_pylist()[1:]]))
                pq.write_table(b, folder / f".f{i}.parquet")
                (folder / f".f{i}.parquet").rename(folder / f"f{i}.parquet")
                for _, arrival in a.watch(folder, actor="bench", once=True):
                    assert not isinstance(arrival, Exception), arrival
                    if arrival.matched.latency_seconds is not None:
                        wl.append(arrival.matched.latency_seconds * 1000)
            rows.append(["alert latency, watched folder, files of 10,000 reads (5 files)",
                         f"{median(wl):.0f} ms median", "", f"worst {max(wl):.0f} ms (from the file being noticed)"])  # fmt: skip
            del hot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()
    body = (
        f"Measured {today()} with `{command_line()}`: {args.reads:,} synthetic reads of about "
        f"{max(args.reads // 10, 1000):,} vehicles at {args.cameras} cameras over 30 days, in the synthetic "
        "generator's Parquet format (and half as many as CSV). Every load pseudonymises every distinct plate and "
        "seals those new to the store, checks every row against the cameras, the clock, retention and the reads already stored "
        "(duplicates within a second), stores in one transaction and matches the 10,000-entry hotlist.\n\n"
        + markdown_table(["step", "time", "rate", "notes"], rows, [False, True, True, False])
        + f"\n\nLoad average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 minute).\n\n"
        + machine_markdown(("duckdb", "pyarrow", "pynacl", "sqlalchemy"))
    )
    print(body)
    write_section(TITLE, body)


if __name__ == "__main__":
    main()
