"""Dashboard latency under load: p50 and p99 and errors at 50 concurrent clients, quiet and during an ingest.

On the demo workspace (made here if missing), ``safestreets serve`` runs with two workers on loopback; 50
clients, all signed in as a viewer, request the overview page, the map's layer endpoints and the
forecast GeoJSON for a fixed time. Then the same again while ``safestreets ingest`` loads the real City of
London files (or, without ../shared/data, a second synthetic city) into the same workspace. Writes the
"Dashboard under load" section of docs/benchmarks.md.

The load comes from wrk (Debian's ``wrk`` package; ``make bench`` installs it), one process per endpoint,
the 50 connections shared among them. A load generator written in Python took three quarters of a core of
the two for itself, and what it reported as latency was then partly its own queueing.

    .venv/bin/python bench/web.py [--clients 50] [--seconds 20] [--baseline main]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, ROOT, command_line, machine_markdown, markdown_table, today, write_section

SHARED = ROOT.parent / "shared" / "data"
TITLE = "Dashboard under load"
#: What the servers wrote (errors with their tracebacks), to look at when a run counts errors.
SERVER_LOG = DATA / "web-server.log"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, ws: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SAFESTREETS_WORKSPACE": str(ws)}
    return subprocess.run(
        [sys.executable, "-m", "safestreets", *args], capture_output=True, text=True, env=env
    )


def prepare(ws: Path) -> str:
    """A fresh copy of the demo workspace and a viewer's password."""
    demo = DATA / "web-demo"
    if not (demo / "safestreets.duckdb").exists():
        r = _cli("demo", ws=demo)
        if r.returncode:
            raise SystemExit(r.stderr)
    if ws.exists():
        shutil.rmtree(ws)
    shutil.copytree(demo, ws)
    (ws / "safestreets.sqlite").unlink(missing_ok=True)
    r = _cli("users", "add", "bench", "--role", "viewer", ws=ws)
    if r.returncode:
        raise SystemExit(r.stderr)
    return r.stdout.strip().rsplit(" ", 1)[-1]


async def login(client: httpx.AsyncClient, password: str) -> None:
    r = await client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', r.text)[1]  # type: ignore[index]
    r = await client.post("/login", data={"username": "bench", "password": password, "login_token": token})
    if r.status_code not in (200, 303):
        raise SystemExit(f"login failed: {r.status_code}")


async def endpoints(client: httpx.AsyncClient) -> dict[str, str]:
    runs = (await client.get("/api/forecasts")).json()
    items = runs if isinstance(runs, list) else runs.get("runs", runs.get("items", []))
    run_id = items[0]["run_id"] if items else 1
    return {
        "overview page": "/",
        "map: borough boundaries": "/api/layers/areas?kind=borough",
        "map: recorded crime": "/api/layers/crime",
        "map: plan hot spots": "/api/layers/hotspots",
        "map: hubs": "/api/layers/hubs",
        "forecast GeoJSON": f"/api/forecasts/{run_id}/geojson",
    }


async def _session(base: str, password: str) -> tuple[str, dict[str, str]]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await login(client, password)
        paths = await endpoints(client)
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items()), paths


#: wrk's report, one JSON line: requests, latency percentiles in microseconds, errors.
REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"n": %d, "p50": %d, "p99": %d, "status": %d, "socket": %d}\\n',
    summary.requests, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def hammer(base: str, password: str, clients: int, seconds: float) -> dict[str, dict[str, float]]:
    """``clients`` signed-in connections for ``seconds``, shared among the endpoints (one wrk process
    each); latency per endpoint. Each connection asks again as soon as it has its answer; bodies are
    read as sent (gzip, as a browser is sent them) and not decoded."""
    if shutil.which("wrk") is None:
        raise SystemExit("this benchmark needs wrk: apt-get install wrk (make bench does)")
    cookie, paths = asyncio.run(_session(base, password))
    share = [clients // len(paths) + (k < clients % len(paths)) for k in range(len(paths))]
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(REPORT)
        script.flush()
        running = {}
        for (name, path), n in zip(paths.items(), share, strict=True):
            if n:
                command = ["wrk", "-t1", f"-c{n}", f"-d{seconds:g}s", "--timeout", "30s", "-s", script.name,
                           "-H", f"Cookie: {cookie}", "-H", "Accept: text/html,application/json",
                           "-H", "Accept-Encoding: gzip", base + path]  # fmt: skip
                running[name] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = {}
        for name, proc in running.items():
            stdout, stderr = proc.communicate()
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            if proc.returncode or not lines:
                raise SystemExit(f"wrk failed for {name}: {stderr.strip() or stdout.strip()}")
            r = json.loads(lines[-1])
            out[name] = {"n": r["n"], "p50": r["p50"] / 1e6, "p99": r["p99"] / 1e6,
                         "errors": r["status"] + r["socket"], "status": r["status"]}  # fmt: skip
    return out


def ingest_source() -> Path:
    city = SHARED / "police_uk" / "city_of_london"
    if city.is_dir():
        return city
    other = DATA / "web-second-city"
    if not other.exists():
        from safestreets.synthetic import CityConfig, generate_city

        generate_city(other, CityConfig(seed=11, n_events=40_000, months=24))
    return other / "police_uk"


def _extract(ref: str, folder: Path) -> Path:
    """The package source of ``ref``, as it was committed (the repository is left as it is)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def _env(ws: Path, code: Path | None) -> dict[str, str]:
    env = {**os.environ, "SAFESTREETS_WORKSPACE": str(ws), "SAFESTREETS_INSECURE_COOKIES": "1"}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _serve(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "safestreets", "serve", "--port", str(port), "--workers",
                               str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=SERVER_LOG.open("a"))  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            httpx.get(f"{base}/login", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.5)
    return server, base


Results = dict[str, dict[str, float]]


def measure(ws: Path, code: Path | None, clients: int, seconds: float, workers: int) -> dict[str, Any]:
    """The quiet run, then the run during an ingest, on a fresh copy of the demo workspace; ``code``: the
    package source to run (None: this checkout's)."""
    password = prepare(ws)
    env = _env(ws, code)
    server, base = _serve(env, workers)
    try:
        hammer(base, password, 6, 3)  # warm both workers, the snapshot and every answer
        loads = [os.getloadavg()[0]]
        quiet = hammer(base, password, clients, seconds)
        loads.append(os.getloadavg()[0])
        source = ingest_source()
        ingest = subprocess.Popen([sys.executable, "-m", "safestreets", "ingest", str(source)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        started = time.monotonic()
        busy = hammer(base, password, clients, seconds)
        loads.append(os.getloadavg()[0])
        ingest_rc = ingest.wait()
        ingest_s = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"quiet": quiet, "busy": busy, "loads": loads, "source": source, "rc": ingest_rc, "ingest_s": ingest_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline", metavar="REF", help="first run the same against this git ref's code "
                    "(extracted to a temporary folder), for a before/after in the same run")  # fmt: skip
    args = ap.parse_args()
    ws = DATA / "web-bench"
    SERVER_LOG.parent.mkdir(parents=True, exist_ok=True)
    SERVER_LOG.write_text("")
    before = None
    if args.baseline:
        with tempfile.TemporaryDirectory() as old:
            code = _extract(args.baseline, Path(old))
            before = measure(ws, code, args.clients, args.seconds, args.workers)
    now = measure(ws, None, args.clients, args.seconds, args.workers)

    def rows(res: Results) -> list[list[str]]:
        return [[name, f"{r['n']:,}", f"{r['p50'] * 1000:.0f} ms", f"{r['p99'] * 1000:.0f} ms", f"{r['errors']:,}"]
                for name, r in res.items()]  # fmt: skip

    headers = ("endpoint", "requests", "p50", "p99", "errors")
    right = (False, True, True, True, True)

    def rate(res: Results) -> str:
        return f"{sum(r['n'] for r in res.values()) / args.seconds:,.0f} requests/s"

    def source_name(source: Path) -> str:
        return str(source.relative_to(source.parents[2])) if SHARED in source.parents else source.name

    def tables(run: dict[str, Any], title: str) -> str:
        loads = run["loads"]
        return (
            f"### {title}: quiet ({rate(run['quiet'])})\n\n{markdown_table(headers, rows(run['quiet']), right)}\n\n"
            f"### {title}: during an ingest ({rate(run['busy'])})\n\n`safestreets ingest "
            f"{source_name(run['source'])}` ran alongside (exit {run['rc']}, {run['ingest_s']:.0f} s from its start "
            f"to the end of the run). Load average (1 min): {loads[0]:.1f} before, {loads[1]:.1f} after the quiet "
            f"run, {loads[2]:.1f} after the run during the ingest.\n\n{markdown_table(headers, rows(run['busy']), right)}\n\n"
        )

    def worst(run: dict[str, Any]) -> tuple[float, int]:
        every = [*run["quiet"].values(), *run["busy"].values()]
        return max(r["p99"] for r in every), sum(int(r["errors"]) for r in every)

    p99, errors = worst(now)
    if errors:
        status = sum(int(r["status"]) for r in [*now["quiet"].values(), *now["busy"].values()])
        errors_said = (f"{errors} errors ({status} answered with an error status, {errors - status} failed "
                       f"connections or timeouts; the servers' log is {SERVER_LOG.relative_to(ROOT)})")  # fmt: skip
    else:
        errors_said = "0 errors"
    compared = ""
    if before is not None:
        old_p99, old_errors = worst(before)
        compared = (f" The code of `{args.baseline}`, in the same run: worst p99 {old_p99 * 1000:.0f} ms, "
                    f"{old_errors} errors.")  # fmt: skip
    body = (
        f"Run {today()}: `{command_line()}`. {args.clients} concurrent signed-in connections for {args.seconds:g} s "
        f"each run, against `safestreets serve --workers {args.workers}` on loopback, on a fresh copy of the "
        "demo workspace each time. The load comes from wrk, one process per endpoint with the connections "
        "shared among them; each connection asks again as soon as it has its answer, and bodies are read as "
        "sent (gzip where the server compressed them). wrk runs on the same two cores as the server.\n\n"
        f"{machine_markdown(('duckdb', 'fastapi', 'uvicorn', 'sqlalchemy'))}\n\n"
        + (tables(before, f"Before: `{args.baseline}`") if before is not None else "")
        + tables(now, "This checkout" if before is not None else "Now")
        + f"**Reading.** Worst p99 {p99 * 1000:.0f} ms (aim: under 200 ms), {errors_said} (aim: none).{compared} "
        "Every request is signed in, checked for its role and written to the audit trail; the store is read "
        "from a snapshot on one connection per worker, so the ingest never blocks a request; the map layers, "
        "the forecast GeoJSON and the overview's figures are computed once per snapshot, by one worker, and "
        "kept gzip-compressed for both (docs/web.md, \"Answers kept per snapshot\"). When the ingest ends "
        "and a new snapshot is taken, a busy worker computes the new answers one at a time and answers "
        "with the previous ones meanwhile. With every connection asking again at once, latency is about "
        "connections / throughput, so these are the latencies of a server kept fully busy.\n"
    )
    print(body)
    write_section(TITLE, body)


if __name__ == "__main__":
    main()
