"""Fuzzing the scenario loader: any text, any dict → a Scenario or one BadInputError line;
and what it accepts is a scenario: it round-trips through TOML, and real QEMU starts the
machine its command line describes (paused by ``-S``, then ``quit``)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from qemu.qmp import ConnectError

import kernels
from harness.errors import BadInputError
from harness.qemu.accel import TCG, check_address_space
from harness.qemu.binary import system_qemu
from harness.qemu.devices import qemu_needs
from harness.qemu.probe import probe
from harness.qemu.binary import system_qemu
from harness.qemu.devices import qemu_needs
from harness.qemu.probe import probe
from harness.qemu.cmdline import build_command
from harness.qemu.machine import ACCEPT_TIMEOUT, Channels
from harness.qemu.qmp import QmpSession
from harness.scenario.layout import compute_layout
from harness.scenario.schema import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
SHIPPED = SCENARIOS / "three-node-movable.toml"
PASS = sorted(SCENARIOS.glob("*.toml"))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

KEYS = st.sampled_from(["name", "machine", "nodes", "memory", "cpus", "slots", "maxmem", "dimms",
                        "id", "size", "node", "srat", "ranges", "start", "hotplug", "actions",
                        "do", "fault", "expect", "timeout", "extends", "kernel", "cmdline", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["1G", "128M", "0x100000000", "-1G",
                                                           "1Q", "inject_fault", "panic", "qemu"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=5)),
                      max_leaves=20)


def _accepts_or_bad_input(load: Any) -> Scenario | None:
    """The scenario ``load`` gives, checked to round-trip; None for one line of bad input."""
    try:
        scenario = load()
    except BadInputError as err:
        message = str(err)
        assert message and "\n" not in message.strip()
        return None
    _round_trips(scenario)
    try:
        check_address_space(compute_layout(scenario), TCG)
    except BadInputError:
        return None
    return scenario  # type: ignore[no-any-return]


def _round_trips(scenario: Scenario) -> None:
    """Written back as TOML and read again, an accepted scenario is the same scenario."""
    text = tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
    assert parse_scenario(tomllib.loads(text), "round-trip") == scenario


@SETTINGS
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_random_dicts_give_a_scenario_or_bad_input(data: dict[str, Any]) -> None:
    _accepts_or_bad_input(lambda: parse_scenario(data, "fuzz"))


def _mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = dict(base)
    if len(path) == 1 or not isinstance(out.get(path[0]), dict):
        out[path[0]] = value
    else:
        out[path[0]] = _mutate(out[path[0]], path[1:], value)
    return out


@SETTINGS
@given(st.lists(KEYS, min_size=1, max_size=3), VALUES)
def test_one_changed_key_of_a_real_scenario_gives_a_scenario_or_bad_input(path: list[str], value: Any) -> None:
    base = tomllib.loads(SHIPPED.read_text())
    _accepts_or_bad_input(lambda: parse_scenario(_mutate(base, path, value), "fuzz"))


TOMLISH = st.lists(st.one_of(st.sampled_from(["[machine]", "[[dimms]]", "[[actions]]", "[srat]", "name = \"t\"",
                                              "nodes = [{ memory = \"1G\" }]", "extends = \"fuzz.toml\"",
                                              "extends = \"missing.toml\"", "do = \"inject_fault\"", "=", "[", "\"",
                                              "slots = 99999", "maxmem = \"1T\""]),
                             st.text(max_size=30)), max_size=12).map("\n".join)


@SETTINGS
@given(text=st.one_of(TOMLISH, st.text(max_size=200)), raw=st.binary(max_size=40))
def test_random_files_give_a_scenario_or_bad_input(tmp_path: Path, text: str, raw: bytes) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") + raw)
    _accepts_or_bad_input(lambda: load_scenario(path))


@cache
def _kernel() -> Path | None:
    cached = [k for k in kernels.list_kernels() if k.spec.startswith("debian:6.1")]
    return cached[0].bzimage if cached else None


def _system_lacks(scenario: Scenario) -> list[str]:
    """What the host's QEMU lacks for ``scenario`` (CXL's volatile type-3 memory on 7.2):
    memhp refuses that before any boot, as bad input (harness.run.runner.check_qemu)."""
    return probe(system_qemu()).missing(qemu_needs(scenario, compute_layout(scenario)))


def _qemu_refusal(scenario: Scenario, work: Path) -> str | None:
    """None if real QEMU starts the machine of ``scenario``'s command line, paused by its
    ``-S`` (QMP says ``prelaunch``: no kernel ran), and quits on request; else QEMU's words."""
    kernel = _kernel()
    assert kernel is not None
    socks = Path(tempfile.mkdtemp(prefix="memhp-fuzz-"))  # 0700, like a run's
    initrd = work / "initrd.img"
    initrd.write_bytes(b"\0" * 512)
    argv = build_command(scenario, kernel, initrd, Channels(work / "console.log", socks / "a.sock", socks / "q.sock"))
    listeners = []
    for name in ("a.sock", "q.sock"):
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(socks / name))
        listener.listen(1)
        listener.settimeout(ACCEPT_TIMEOUT)
        listeners.append(listener)
    qemu = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    qmp = QmpSession(work / "qmp.jsonl")
    try:
        try:  # QEMU connects the agent, then the monitor (command-line order)
            agent, _ = listeners[0].accept()
            monitor, _ = listeners[1].accept()
        except OSError:
            qemu.kill()
            return qemu.communicate()[0].decode(errors="replace").strip() or f"exit {qemu.wait()}"
        try:  # QEMU connects its sockets before it checks the memory map
            qmp.connect(monitor, ACCEPT_TIMEOUT)
        except ConnectError:
            agent.close()
            return qemu.communicate(timeout=ACCEPT_TIMEOUT)[0].decode(errors="replace").strip()
        status = qmp.command("query-status")["status"]
        qmp.try_quit()
        code = qemu.wait(ACCEPT_TIMEOUT)
        agent.close()
        return None if (status, code) == ("prelaunch", 0) else f"status {status}, exit {code}"
    finally:
        qmp.close()
        if qemu.poll() is None:
            qemu.kill()
            qemu.wait()
        for listener in listeners:
            listener.close()
        shutil.rmtree(socks, ignore_errors=True)


QEMU_SETTINGS = settings(max_examples=20, deadline=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])


@QEMU_SETTINGS
@given(st.sampled_from(PASS), st.lists(KEYS, min_size=1, max_size=3), VALUES)
def test_an_accepted_mutation_of_a_shipped_scenario_starts_in_qemu(tmp_path: Path, base: Path,
                                                                   path: list[str], value: Any) -> None:
    if _kernel() is None:
        pytest.skip("no Debian 6.1 kernel cached (memhp kernels fetch debian:6.1)")
    data = load_scenario(base).model_dump(mode="json", exclude_none=True)
    scenario = _accepts_or_bad_input(lambda: parse_scenario(_mutate(data, path, value), "fuzz"))
    assume(scenario is not None)
    assert scenario is not None
    assume(not _system_lacks(scenario))
    assert _qemu_refusal(scenario, tmp_path) is None


@pytest.mark.parametrize("path", sorted(SCENARIOS.rglob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_round_trips_and_starts_in_qemu(tmp_path: Path, path: Path) -> None:
    if _kernel() is None:
        pytest.skip("no Debian 6.1 kernel cached (memhp kernels fetch debian:6.1)")
    scenario = load_scenario(path)
    _round_trips(scenario)
    if lacks := _system_lacks(scenario):  # only CXL's needs may be missing here
        assert scenario.cxl and all("cxl-type3" in why for why in lacks), lacks
        return
    assert _qemu_refusal(scenario, tmp_path) is None


NODE_MIB = st.sampled_from([128, 256, 512, 1024, 2048])
# Up to both sides of where TCG's 40 address bits end (harness.qemu.accel.check_address_space).
EXTRA_MIB = st.sampled_from([0, 256, 1024, 8 << 10, 64 << 10, 512 << 10, 1000 << 10, 1008 << 10, 4 << 20])


@st.composite
def _machines(draw: st.DrawFn) -> dict[str, Any]:
    """Plausible machines: 1-4 nodes, 0-8 slots, maxmem up to 512 GiB above the RAM."""
    nodes = draw(st.lists(NODE_MIB, min_size=1, max_size=4))
    slots, extra = draw(st.integers(0, 8)), draw(EXTRA_MIB)
    machine: dict[str, Any] = {"cpus": 1, "slots": slots,
                               "nodes": [{"memory": f"{m}M"} for m in nodes]}
    machine["nodes"][0]["cpus"] = [0]
    dimms = []
    if extra:
        machine["maxmem"] = f"{sum(nodes) + extra}M"
        if slots:
            dimms = [{"id": "d0", "size": "128M", "node": draw(st.integers(0, len(nodes) - 1))}]
    srat = {"source": draw(st.sampled_from(["qemu", "override"]))}
    return {"name": "machine", "machine": machine, "dimms": dimms, "srat": srat}


@QEMU_SETTINGS
@given(_machines())
def test_an_accepted_machine_starts_in_qemu(tmp_path: Path, data: dict[str, Any]) -> None:
    if _kernel() is None:
        pytest.skip("no Debian 6.1 kernel cached (memhp kernels fetch debian:6.1)")
    scenario = _accepts_or_bad_input(lambda: parse_scenario(data, "fuzz"))
    assume(scenario is not None)
    assert scenario is not None
    assume(not _system_lacks(scenario))
    assert _qemu_refusal(scenario, tmp_path) is None


@pytest.mark.parametrize(("maxmem", "starts"), [("1028608M", True), ("1028609M", False), ("4T", False)])
def test_qemu_and_memhp_draw_the_address_limit_at_the_same_megabyte(tmp_path: Path, maxmem: str,
                                                                       starts: bool) -> None:
    """512M of RAM, 2 slots: 1028608M is the last maxmem QEMU 7.2 starts under TCG (found
    by bisecting real QEMU); one MiB more is bad input to memhp and refused by QEMU."""
    if _kernel() is None:
        pytest.skip("no Debian 6.1 kernel cached (memhp kernels fetch debian:6.1)")
    data = {"name": "big", "machine": {"slots": 2, "maxmem": maxmem, "nodes": [{"memory": "512M", "cpus": [0]}]}}
    scenario = parse_scenario(data, "fuzz")
    if starts:
        check_address_space(compute_layout(scenario), TCG)
    else:
        with pytest.raises(BadInputError, match=r"^machine\.maxmem: QEMU's TCG guest would use addresses"):
            check_address_space(compute_layout(scenario), TCG)
    refusal = _qemu_refusal(scenario, tmp_path)
    assert refusal is None if starts else "phys-bits too low" in (refusal or ""), refusal
