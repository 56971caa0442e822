"""One ``forecast --model auto``, timed quiet and beside a busy process, against one backtest origin.

Run through ``bench/forecast.py --single`` (which owns the inputs and their stores); this module does the
timing and writes the ``## One forecast`` section of docs/benchmarks.md.

Every timed run is a fresh Python process (so no memo of an earlier run helps it), timed inside from just
after its imports:

- forecast: ``run_forecast`` as ``safestreets forecast --model auto`` calls it (``n_jobs`` workers for the
  choice, the default native threads), without saving; the load of the data, the choice and the final fit
  and forecast are timed apart.
- one backtest origin: ``backtest`` of every registered model (auto's candidates) at one origin, the last
  one auto backtests, with the same ``n_jobs``, on data already loaded.

Busy: one CPU-burning process (``while True: pass``) on the same cores as the timed process, started just
before it and killed just after (and, should the benchmark die, by the kernel: it asks to be killed with its
parent). ``--src`` times another source tree (say the commit before a change) with the same script; each
``--label`` keeps its own figures in bench/.data/single-forecast/, and the docs show every label kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _common import (
    DATA,
    command_line,
    fmt_seconds,
    machine_markdown,
    markdown_table,
    median,
    today,
    write_section,
)

TITLE = "One forecast"
RESULTS = DATA / "single-forecast"
#: Dies with its parent (prctl PR_SET_PDEATHSIG = 1, SIGKILL = 9), then burns one core.
BURN = "import ctypes; ctypes.CDLL(None).prctl(1, 9)\nwhile True: pass"
#: The aim: one auto forecast within this many times one backtest origin of all its candidates.
AIM_RATIO = 2.0


# --- the timed processes --------------------------------------------------------------------------------


def child_forecast(
    store: str, target: str, horizon: str, cell: float, study: str, jobs: int
) -> dict[str, Any]:
    """``run_forecast`` as the CLI calls it for ``--model auto``, phases timed apart."""
    from safestreets.config import Workspace
    from safestreets.evaluate import forecast_run
    from safestreets.store import open_store

    phases: dict[str, float] = {}

    def timed(name: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start

        return wrapper

    # The phases, by wrapping what run_forecast calls (the same names before and after the change).
    forecast_run.load_history = timed("read", forecast_run.load_history)  # type: ignore[assignment]
    forecast_run.load_units = timed("read", forecast_run.load_units)  # type: ignore[assignment]
    forecast_run.choose = timed("choose", forecast_run.choose)  # type: ignore[assignment]
    con = open_store(Workspace(store), read_only=True)
    try:
        start = time.perf_counter()
        run = forecast_run.run_forecast(con, target=target, horizon=horizon, model="auto", units_kind="grid",
                                        cell_size=cell, study=study, n_jobs=jobs, save=False)  # fmt: skip
        wall = time.perf_counter() - start
    finally:
        con.close()
    phases["final"] = wall - phases.get("read", 0.0) - phases.get("choose", 0.0)
    return {"wall": wall, **phases, "model": run.model, "units": len(run.units), "events": len(run.history)}


def child_origin(store: str, target: str, horizon: str, cell: float, study: str, jobs: int) -> dict[str, Any]:
    """One backtest origin of every registered model, the last origin auto backtests."""
    from safestreets.config import Workspace
    from safestreets.evaluate.backtest import backtest
    from safestreets.evaluate.forecast_run import cutoff
    from safestreets.forecast import MODELS, make_model
    from safestreets.forecast.data import load_history, load_units
    from safestreets.forecast.history import Horizon
    from safestreets.forecast.targets import parse_target
    from safestreets.store import open_store

    h = Horizon.parse(horizon)
    con = open_store(Workspace(store), read_only=True)
    try:
        history = load_history(con, parse_target(target), need_timestamps=h.unit == "D")
        units = load_units(con, "grid", cell_size=cell, study=study, history=history)
    finally:
        con.close()
    origin = h.add(cutoff(history, h), -1)
    models = {name: make_model(name) for name in MODELS}
    start = time.perf_counter()
    backtest(models, history, units, origins=[origin], horizons=[h], coverages=(0.01, 0.05), by_bcu=False,
             n_jobs=jobs)  # fmt: skip
    return {"wall": time.perf_counter() - start, "origin": str(origin)[:10], "models": len(models)}


CHILDREN = {"forecast": child_forecast, "origin": child_origin}


def child_main(argv: Sequence[str]) -> None:
    kind, store, target, horizon, cell, study, jobs = argv
    out = CHILDREN[kind](store, target, horizon, float(cell), study, int(jobs))
    print("RESULT " + json.dumps(out))


# --- the parent -----------------------------------------------------------------------------------------


def cores() -> set[int]:
    return set(os.sched_getaffinity(0))


@contextmanager
def busy(on: bool) -> Iterator[None]:
    """With ``on``, one process burning CPU on this process's cores while the block runs; always killed."""
    if not on:
        yield
        return
    pinned = cores()
    burner = subprocess.Popen(
        [sys.executable, "-c", BURN], preexec_fn=lambda: os.sched_setaffinity(0, pinned)
    )
    try:
        time.sleep(0.5)  # let it start burning before the timed process starts
        yield
    finally:
        burner.kill()
        burner.wait()


def run_child(kind: str, args: Sequence[str], src: Path, timeout: float) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("OMP_NUM_THREADS", None)  # the code under test decides its threads
    pinned = cores()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *args]
    loadavg = os.getloadavg()[0]
    # Its own process group, so that a run cut short takes its backtest's workers with it.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: os.sched_setaffinity(0, pinned))  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException as err:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        if isinstance(err, subprocess.TimeoutExpired):
            return {"wall": None, "timeout": timeout, "loadavg": loadavg}
        raise
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{kind} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return {**json.loads(lines[-1][len("RESULT ") :]), "loadavg": loadavg}


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(f"stopped by signal {signum}")  # so the burner's finally runs


def run(datasets: Sequence[Any], store_for: Any, args: Any, console: Any) -> dict[str, Any]:
    """Time each input: per repeat, the forecast and one backtest origin, quiet then busy."""
    signal.signal(signal.SIGTERM, _terminate)
    src = Path(args.src).resolve()
    started = time.perf_counter()
    inputs = []
    for ds in datasets:
        ws, _ = store_for(ds, args.rebuild)
        inputs.append((ds, [str(ws.root), ds.target, ds.horizon, str(ds.cell), ds.study, str(args.jobs)]))
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {ds.key: {} for ds, _ in inputs}
    for r in range(args.repeats):
        for ds, child_args in inputs:
            for condition in ("quiet", "busy"):
                for kind in ("forecast", "origin"):
                    with busy(condition == "busy"):
                        out = run_child(kind, child_args, src, args.timeout)
                    runs[ds.key].setdefault(f"{kind} {condition}", []).append(out)
                    wall = "timed out" if out["wall"] is None else f"{out['wall']:.1f} s"
                    console.print(f"  [{r + 1}/{args.repeats}] {ds.title}: {kind} {condition} {wall} "
                                  f"(load average {out['loadavg']:.1f})")  # fmt: skip
    result = {
        "label": args.label,
        "note": args.note,
        "src": str(src),
        "command": command_line(),
        "date": today(),
        "repeats": args.repeats,
        "jobs": args.jobs,
        "minutes": (time.perf_counter() - started) / 60,
        "inputs": [
            {"key": ds.key, "title": ds.title, "horizon": ds.horizon, "cell": ds.cell, "runs": runs[ds.key]}
            for ds, _ in inputs
        ],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.label}.json").write_text(json.dumps(result, indent=1))
    return result


# --- figures --------------------------------------------------------------------------------------------


def _median(values: Sequence[dict[str, Any]], field: str) -> float | None:
    """The median over the runs, a run cut at the timeout counting as longer than any; ``None`` when the
    median itself is such a run (or there are none)."""
    got = [
        float("inf") if v.get("wall") is None else v[field]
        for v in values
        if field in v or v.get("wall") is None
    ]
    m = median(got) if got else None
    return None if m is None or m == float("inf") else m


def _cell(values: Sequence[dict[str, Any]], field: str = "wall") -> str:
    m = _median(values, field)
    if m is None:
        limit = max((v.get("timeout") or 0) for v in values)
        return f"> {limit:.0f}" if limit else "–"
    return fmt_seconds(m)


def ratios(runs: dict[str, list[dict[str, Any]]], condition: str) -> tuple[float | None, float | None]:
    """Forecast over one backtest origin: the ratio of the medians, and the median of each repeat's own
    ratio (its forecast and origin ran one after the other, under much the same load from other work)."""
    f, o = runs.get(f"forecast {condition}", []), runs.get(f"origin {condition}", [])
    fw, ow = _median(f, "wall"), _median(o, "wall")
    of_medians = fw / ow if fw is not None and ow else None
    pairs = [
        a["wall"] / b["wall"] if a["wall"] is not None and b["wall"] else float("inf")
        for a, b in zip(f, o, strict=True)
    ]
    paired = median(pairs) if pairs else None
    return of_medians, None if paired is None or paired == float("inf") else paired


def _x(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}x"


def rows_for(result: dict[str, Any]) -> list[list[str]]:
    rows = []
    for entry in result["inputs"]:
        for condition in ("quiet", "busy"):
            f = entry["runs"].get(f"forecast {condition}", [])
            o = entry["runs"].get(f"origin {condition}", [])
            of_medians, paired = ratios(entry["runs"], condition)
            loads = [v["loadavg"] for v in f + o]
            models = sorted({v["model"] for v in f if "model" in v})
            rows.append([
                entry["title"], condition, _cell(f), _cell(f, "read"), _cell(f, "choose"), _cell(f, "final"),
                ", ".join(models) or "–", _cell(o), _x(of_medians), _x(paired),
                f"{min(loads):.1f}–{max(loads):.1f}" if loads else "–",
            ])  # fmt: skip
    return rows


HEADERS = ["input", "machine", "forecast s", "read s", "choose s", "final fit s", "chosen",
           "one backtest origin s", "forecast / origin", "per repeat", "load average"]  # fmt: skip
RIGHT = [False, False, True, True, True, True, False, True, True, True, True]


def markdown(results: Sequence[dict[str, Any]]) -> str:
    parts = [
        "How long one `safestreets forecast --model auto` takes against one backtest origin of all its "
        f"candidates, on a quiet machine and beside one busy process; the aim is at most {AIM_RATIO:g}x.",
        "",
        "Machine:",
        "",
        machine_markdown(("numpy", "scipy", "scikit-learn", "threadpoolctl")),
        "",
        "Method:",
        "",
        "- Each figure is the median over the repeats of a fresh Python process, timed inside from just after "
        "its imports. forecast: `run_forecast` as the CLI calls it for `--model auto` (the choice's backtest "
        "with n_jobs worker processes, the default native threads, nothing saved); `read` is reading the "
        "events and building the units, `choose` auto's backtest, `final fit` the chosen model's fit and "
        "forecast (and the harm and metadata after it). one backtest origin: `backtest` of every registered "
        "model at the last origin auto backtests, same n_jobs, the data already loaded.",
        "- busy: one process running `while True: pass` on the same cores, from just before the timed "
        "process starts until it ends. quiet: no such process; the machine is shared with other work, so "
        "quiet is relative: the 1-minute load average at each start is given (range over the repeats).",
        "- Per repeat the runs are interleaved: forecast quiet, origin quiet, forecast busy, origin busy. "
        "forecast / origin is the ratio of the medians; per repeat is the median of each repeat's own "
        "ratio (its two runs one after the other, under much the same load from other work).",
        "",
    ]
    for result in results:
        parts += [
            f"### {result['label']}",
            "",
            f"Command: `{result['command']}`  ",
            f"Date: {result['date']}; source `{result['src']}`; {result['repeats']} repeat(s), n_jobs="
            f"{result['jobs']}; the run took {result['minutes']:.1f} min.",
            *(["", result["note"]] if result.get("note") else []),
            "",
            markdown_table(HEADERS, rows_for(result), RIGHT),
            "",
        ]
    parts += ["Reading:", "", *reading(results)]
    return "\n".join(parts)


def reading(results: Sequence[dict[str, Any]]) -> list[str]:
    """The aim per label, input and machine state, and the current code against the others."""
    out = []
    walls: dict[tuple[str, str, str], float | None] = {}
    for result in results:
        for entry in result["inputs"]:
            for condition in ("quiet", "busy"):
                walls[(result["label"], entry["title"], condition)] = _median(
                    entry["runs"].get(f"forecast {condition}", []), "wall"
                )
                of_medians, paired = ratios(entry["runs"], condition)
                if of_medians is None or paired is None:
                    verdict = "not measured (a run timed out)"
                else:
                    met = [r <= AIM_RATIO for r in (of_medians, paired)]
                    word = "met" if all(met) else ("borderline" if any(met) else "not met")
                    verdict = f"{word}: {of_medians:.2f}x the median origin, {paired:.2f}x per repeat"
                out.append(f"- {result['label']}, {entry['title']}, {condition}: aim (forecast at most "
                           f"{AIM_RATIO:g}x one backtest origin) **{verdict}**.")  # fmt: skip
    current = next((r for r in results if r["label"] == "after"), None)
    for other in (r for r in results if current is not None and r is not current):
        for (label, title, condition), before in walls.items():
            now = walls.get(("after", title, condition))
            if label == other["label"] and now and before:
                out.append(f"- {title}, {condition}: the forecast takes {fmt_seconds(now)} s now against "
                           f"{fmt_seconds(before)} s with {label} ({before / now:.1f}x faster).")  # fmt: skip
    return out


def write_docs() -> Path:
    """The section from every label kept in bench/.data/single-forecast/, the current code's first."""
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    results.sort(key=lambda r: (r["label"] != "after", r["label"]))
    return write_section(TITLE, markdown(results))


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--child":
    child_main(sys.argv[2:])
