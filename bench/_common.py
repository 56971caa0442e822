"""Helpers shared by the benchmarks: the machine they ran on, number formatting, and docs/benchmarks.md.

Each benchmark owns one ``## <title>`` section of docs/benchmarks.md and replaces only that section, so
benchmarks can be rerun independently without clobbering one another.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import shlex
import statistics
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "benchmarks.md"
DATA = Path(__file__).resolve().parent / ".data"  # gitignored: generated inputs, reused between runs

PREAMBLE = """# Benchmarks

Measured figures for safestreets, one section per benchmark. Each section is written by its script
under `bench/` and says the exact command, the data, the machine and the date it was run; rerunning a
script replaces only its own section.
"""


# --- the machine --------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it (virtual machines often give only the family)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def usable_cores() -> int:
    """Cores this process may run on (a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(packages: Sequence[str] = ("duckdb", "pyarrow")) -> dict[str, str]:
    """What a reader needs to compare figures across machines."""
    ram = ram_gib()
    info = {
        "CPU": cpu_model(),
        "cores": str(usable_cores()),
        "RAM": f"{ram:.1f} GiB" if ram is not None else "unknown",
        "OS": platform.platform(),
        "Python": platform.python_version(),
    }
    for name in packages:
        info[name] = version_of(name)
    return info


def machine_markdown(packages: Sequence[str] = ("duckdb", "pyarrow")) -> str:
    return "\n".join(f"- {key}: {value}" for key, value in machine(packages).items())


def command_line() -> str:
    """The command as it was run, relative to the repository root where possible."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(script)
    return shlex.join([".venv/bin/python", shown, *sys.argv[1:]])


def today() -> str:
    return dt.date.today().isoformat()


# --- numbers ------------------------------------------------------------------------------------------


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.2f}"
    return f"{seconds:.1f}"


def fmt_count(n: float | None) -> str:
    return "–" if n is None else f"{n:,.0f}"


def fmt_rate(rows: float | None, seconds: float | None) -> str:
    """Rows per second with thousands separators; a dash when there is nothing to divide."""
    if rows is None or not seconds:
        return "–"
    return f"{rows / seconds:,.0f}"


def fmt_ratio(numerator: float | None, denominator: float | None) -> str:
    """``numerator / denominator`` as e.g. ``3.9x``; the figure a reader compares with a target."""
    if numerator is None or not denominator:
        return "–"
    return f"{numerator / denominator:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[bool]) -> str:
    """A GitHub-flavoured table; ``right`` marks the numeric columns to right-align."""
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join("---:" if r else ":---" for r in right) + "|")
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


# --- docs/benchmarks.md -------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")


def _split_sections(text: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The lines before the first ``## `` heading, then (title, lines) per ``## `` section.

    Headings inside fenced code blocks are text, not sections.
    """
    head: list[str] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        elif sections:
            sections[-1][1].append(line)
        else:
            head.append(line)
    return head, sections


def write_section(title: str, body: str, path: Path = DOCS) -> Path:
    """Replace the ``## {title}`` section of ``path`` with ``body`` (or append it), leaving the rest."""
    text = path.read_text("utf-8") if path.exists() else PREAMBLE
    head, sections = _split_sections(text)
    block = [f"## {title}", "", *body.strip("\n").splitlines(), ""]
    for i, (name, _) in enumerate(sections):
        if name == title:
            sections[i] = (title, block)
            break
    else:
        if sections and sections[-1][1][-1].strip():
            sections[-1][1].append("")
        sections.append((title, block))
    while head and not head[-1].strip():
        head.pop()
    lines = [*head, ""]
    for _, section in sections:
        lines += section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip("\n") + "\n", "utf-8")
    return path
