"""The dashboard and the CLI at once: a command writes the store while several dashboard workers answer,
and neither fails nor waits for long; the next request after the command shows the new data."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from test_cli import run

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(client: httpx.Client, username: str, password: str) -> None:
    r = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', r.text)[1]  # type: ignore[index]
    r = client.post("/login", data={"username": username, "password": password, "login_token": token})
    assert r.status_code in (200, 303), r.text


def test_ingest_while_the_dashboard_serves(demo_city: Path, shared_data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(demo_city, ws)
    added = run("users", "add", "watcher", "--role", "viewer", workspace=ws)
    assert added.returncode == 0, added.stderr
    password = added.stdout.strip().rsplit(" ", 1)[-1]
    port = _free_port()
    env = {**os.environ, "SAFESTREETS_WORKSPACE": str(ws), "SAFESTREETS_INSECURE_COOKIES": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "safestreets", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, server.stderr.read()  # type: ignore[union-attr]
                time.sleep(0.5)
        client = httpx.Client(base_url=base, timeout=30)
        _login(client, "watcher", password)
        before = client.get("/api/status").json()["tables"]["events"]["rows"]

        statuses: list[int] = []
        slowest = [0.0]
        stop = threading.Event()

        def poll() -> None:
            while not stop.is_set():
                started = time.monotonic()
                statuses.append(client.get("/api/status").status_code)
                slowest[0] = max(slowest[0], time.monotonic() - started)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            ingest = run("ingest", str(shared_data / "police_uk" / "city_of_london"), workspace=ws)
        finally:
            stop.set()
            poller.join()
        assert ingest.returncode == 0, ingest.stderr
        assert statuses and set(statuses) == {200}, statuses
        assert slowest[0] < 10, slowest[0]
        after = client.get("/api/status").json()["tables"]["events"]["rows"]
        assert after > before  # the next request sees what the command loaded
    finally:
        server.terminate()
        server.wait(timeout=30)
