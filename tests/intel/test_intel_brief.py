"""The weekly briefing gains a section of counts (never contents) when triaged community reports fall in
the eight weeks before its week: on a copy of the demo city."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from intel.intel_support import PASSPHRASE
from safestreets.api import Workspace
from safestreets.intel import codename, keys, records

pytestmark = pytest.mark.slow


def test_the_briefing_counts_community_reports(demo_city: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SAFESTREETS_INTEL_KEY", raising=False)
    root = tmp_path / "ws"
    shutil.copytree(demo_city, root, ignore=shutil.ignore_patterns("outputs", "tmp", "*.sqlite*"))
    with Workspace(root) as ws:
        first = ws.brief(pdf=False)
        assert "Community intelligence" not in first.html.read_text("utf-8")
        week = first.context["week_start"]
        lsoa = ws.con.execute(
            "SELECT code FROM areas WHERE kind LIKE 'lsoa%' ORDER BY code LIMIT 1"
        ).fetchone()[0]
        ws.intel_keygen(PASSPHRASE, strength="interactive", actor="t")
        key = ws.intel_unlock(PASSPHRASE)
        team = keys.load_public(root / "intel" / "team.pub")
        for n in range(4):
            rid = records.store_report(ws.db, team, codename.derive(codename.new_codename()),
                                       {"what": f"secret detail number {n}"}, [], danger_now=False,
                                       today=week - timedelta(days=3 + 7 * (n % 2)))  # fmt: skip
            ws.intel_triage(key, rid, area=lsoa, actor="t")
        html = ws.brief(pdf=False).html.read_text("utf-8")
    assert "Community intelligence: anonymous reports" in html
    assert lsoa in html and "secret detail" not in html
