"""The HTML report rendered by a real headless Chromium: the screenshot must show content."""
from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from report_data import record, result, write_runs  # noqa: E402

from harness.lab.reports.html import write_html  # noqa: E402
from harness.run.verdict import Verdict  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _rows(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the filtered scanlines of a non-interlaced PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = len(raw) // height
    return width, height, [raw[i * stride:(i + 1) * stride] for i in range(height)]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/setup installs it)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    res = result((record("a@debian-6.1+default", Verdict.PASS),
                  record("b@debian-6.1+default", Verdict.FAIL)))
    write_runs(tmp_path / "runs", res)
    page = tmp_path / "index.html"
    write_html(res, tmp_path / "runs", page)
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1400,1000", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    width, height, rows = _rows(shot.read_bytes())
    assert (width, height) == (1400, 1000)
    # A blank or error page is a handful of distinct rows; tables, SVG bands and text are many.
    assert len(set(rows)) > 200
