"""Helpers for the intake and intel tests: a workspace with a team key, photos carrying GPS, a served
intake process, and a scanner for what the service wrote."""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

PASSPHRASE = "correct horse battery staple"
REPO = Path(__file__).resolve().parents[2]


def gps_photo(maker: str = "ProbePhone-57", size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG whose EXIF names a camera maker and a GPS position (51.5154 N, 0.0921 W)."""
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = maker  # Make
    exif[0x0110] = "Model-X57"  # Model
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 55.44), 3: "W", 4: (0.0, 5.0, 31.56)})
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    log: Path
    tmp: Path
    proc: subprocess.Popen[bytes]

    def client(self, address: str = "127.0.0.1", **kw: object) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def serve(ws: Path, out: Path, *extra: str) -> Served:
    """``safestreets intake serve`` as its own process on a free loopback port; stdout and stderr to a log
    file, temporary files into a folder of their own (both scanned afterwards)."""
    port = free_port()
    log, tmp = out / "intake.log", out / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "TMPDIR": str(tmp),
        "SAFESTREETS_WORKSPACE": str(ws),
    }
    env.pop("SAFESTREETS_DATABASE_URL", None)
    fh = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "safestreets", "intake", "serve", "--port", str(port),
                             "--workers", "1", *extra], stdout=fh, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", log, tmp, proc)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(served.url + "/", timeout=2)
            return served
        except httpx.HTTPError:
            if proc.poll() is not None or time.monotonic() > deadline:
                served.stop()
                raise RuntimeError(f"intake did not start: {log.read_text(errors='replace')}") from None
            time.sleep(0.2)


def scan(paths: list[Path], needles: list[str]) -> list[str]:
    """Every needle found in any file under ``paths`` (bytes, case-insensitive, UTF-8 and UTF-16)."""
    found = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for f in files:
            data = f.read_bytes().lower()
            for n in needles:
                for form in (n.lower().encode("utf-8"), n.lower().encode("utf-16-le")):
                    if form in data:
                        found.append(f"{n!r} in {f}")
    return found


def codename_of(html: str) -> str:
    m = re.search(r'id="codename">([^<]+)<', html)
    assert m, "no codename on the page"
    return m.group(1).strip()


def lsoa_file(path: Path) -> Path:
    """Four LSOAs in a 2x2 grid around 51.515 N, 0.09 W (each about 700 m by 700 m)."""
    feats = []
    for i, (x, y) in enumerate([(-0.100, 51.510), (-0.090, 51.510), (-0.100, 51.516), (-0.090, 51.516)]):
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.006], [x, y + 0.006], [x, y]]
        feats.append({"type": "Feature", "properties": {"LSOA21CD": f"E0100000{i}", "LSOA21NM": f"Test {i}"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})  # fmt: skip
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}), "utf-8")
    return path
