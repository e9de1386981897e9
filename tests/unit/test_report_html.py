from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from report_data import G, K, M, model, record, result, write_runs

from harness.lab.reports.html import render_html
from harness.lab.reports.memmap_svg import PiecewiseScale, human, lanes, memmap_svg
from harness.run.verdict import Verdict


def test_piecewise_scale_is_monotonic_and_keeps_small_ranges_visible() -> None:
    edges = {0, 640 * K, M, 4 * G, 12 * G}
    scale = PiecewiseScale(edges, 1000)
    xs = [scale(e) for e in sorted(edges)]
    assert xs == sorted(xs) and xs[0] == 0 and abs(xs[-1] - 1000) < 1e-6
    assert scale(640 * K) > 100  # a linear axis would give it 0.005 px
    assert scale(2 * G) < scale(3 * G) < scale(4 * G)


def test_human_addresses() -> None:
    assert [human(640 * K), human(4 * G), human(5 * M), human(1047268 * K)] == \
           ["640K", "4G", "5M", "0x3feb9000"]


def test_lanes_from_model() -> None:
    by_name = {lane.name: lane for lane in lanes(model())}
    assert [(b.start, b.end) for b in by_name["ZONE_MOVABLE"].bands] == [(5 * G, 6 * G)]
    assert [b.label for b in by_name["SRAT nodes"].bands] == ["N0", "N0", "N1 hp"]
    reserved = by_name["reservations in hp"].bands
    assert len(reserved) == 1 and reserved[0].alarm and "initrd" in reserved[0].title
    failed = by_name["failed offline"].bands
    assert [(b.start, b.label) for b in failed] == [(5 * G, "block 40")] and "EBUSY" in failed[0].title
    dimm = by_name["DIMMs"].bands
    assert [(b.start, b.end, b.alarm) for b in dimm] == [(8 * G, 8 * G + 256 * M, True)]
    assert by_name["hotplug ranges"].bands[0].alarm  # the hotplug mark was cleared


def test_svg_is_well_formed_and_lists_the_alarms() -> None:
    svg = memmap_svg(model())
    root = ET.fromstring(svg)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any("by initrd" in t for t in texts)
    assert any("did not offline: EBUSY" in t for t in texts)
    assert any("removal failed" in t for t in texts)
    assert {"640K", "4G"} <= set(texts)


def test_html_report_has_a_row_a_map_and_links_per_run(tmp_path: Path) -> None:
    res = result((record("a@debian-6.1+default", Verdict.PASS),
                  record("b<x>@debian-6.1+default", Verdict.FAIL)))
    write_runs(tmp_path, res)
    page = render_html(res, tmp_path, None)
    assert page.count("<svg") == 2 and 'href="runs/a@debian-6.1+default/console.log"' in page
    assert "b&lt;x&gt;" in page and "b<x>" not in page
    assert re.search(r'<tr class="unexpected">.*b&lt;x&gt;', page)


def test_hotplug_range_without_boot_ram_is_a_hot_add_window_not_an_alarm() -> None:
    from harness.analysis.pinning import HotplugStatus, NodeHotplugFinding
    from harness.lab.reports.memmap_svg import _hotplug
    from harness.logparse import AddressRange
    from harness.memblock.model import MemblockRegion

    window = AddressRange(5 << 30, 13 << 30)   # QEMU's device-memory window
    boot = AddressRange(4 << 30, 5 << 30)
    finding = NodeHotplugFinding(2, (boot, window), HotplugStatus.CLEARED,
                                 (MemblockRegion(4 << 30, 1 << 30, 0, 2),), ())
    bands = _hotplug((finding,)).bands
    assert [(b.label, b.alarm) for b in bands] == [("N2 cleared", True), ("N2 hot-add window", False)]


def test_a_run_whose_model_json_does_not_read_gets_its_reason_not_a_map(tmp_path: Path) -> None:
    res = result((record("a@debian-6.1+default", Verdict.PASS), record("b@debian-6.1+default", Verdict.PASS)))
    write_runs(tmp_path, res)
    (tmp_path / "b@debian-6.1+default" / "model.json").write_text('{"scenario": "b"}')
    (tmp_path / "a@debian-6.1+default" / "model.json").unlink()
    page = render_html(res, tmp_path, None)
    assert page.count("<svg") == 0 and "no model.json: the run did not get that far" in page
    assert f"no memory map: {tmp_path}/b@debian-6.1+default/model.json: schema_version: missing" in page
