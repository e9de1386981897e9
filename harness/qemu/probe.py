"""Asking a QEMU binary what it is and has, once per binary (cached by path, size and mtime).

QEMU runs with ``-machine none`` and QMP on its stdin/stdout: the commands go in one
write, each with an ``id``, and the answers are matched by it. Nothing boots; a probe
takes a fraction of a second, and its answers are kept in the cache (private, 0700).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from typing import Any

from harness.errors import InfrastructureError
from harness.paths import cache_dir
from harness.qemu.binary import QemuBinary
from harness.qemu.facts import PROBED_DEVICES, PROBED_OBJECTS, QemuFacts

PROBE_TIMEOUT = 60.0
_CACHE_FORMAT = 2  # raise when the cached answers change shape


def _commands() -> list[dict[str, Any]]:
    cmds: list[dict[str, Any]] = [{"execute": "qmp_capabilities"},
                                  {"execute": "query-version"}, {"execute": "query-machines"},
                                  {"execute": "query-qmp-schema"},
                                  {"execute": "query-migrate-capabilities"}]
    cmds += [{"execute": "device-list-properties", "arguments": {"typename": t}} for t in PROBED_DEVICES]
    cmds += [{"execute": "qom-list-properties", "arguments": {"typename": t}} for t in PROBED_OBJECTS]
    cmds.append({"execute": "quit"})
    return [dict(c, id=i) for i, c in enumerate(cmds)]


def _ask(qemu: QemuBinary) -> dict[int, dict[str, Any]]:
    """Every answer by command index (``return`` or ``error``)."""
    argv = [*qemu.argv(), "-machine", "none", "-nodefaults", "-display", "none", "-qmp", "stdio"]
    text = "".join(json.dumps(c) + "\n" for c in _commands())
    try:
        proc = subprocess.run(argv, input=text.encode(), capture_output=True,  # noqa: S603 - argv list
                              timeout=PROBE_TIMEOUT, env=qemu.env(), check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InfrastructureError(f"probing {qemu.path} failed: {err}") from err
    answers: dict[int, dict[str, Any]] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(msg, dict) and isinstance(msg.get("id"), int):
            answers[msg["id"]] = msg
    if 1 not in answers or "return" not in answers[1]:
        tail = " | ".join(proc.stderr.decode(errors="replace").strip().splitlines()[-3:])
        raise InfrastructureError(f"probing {qemu.path}: no answer to query-version "
                                  f"(exit {proc.returncode}): {tail or 'no output'}")
    return answers


def _facts(answers: dict[int, dict[str, Any]]) -> QemuFacts:
    version = answers[1]["return"]
    q = version["qemu"]
    machines: dict[str, str] = {}
    for m in answers[2].get("return", []):
        machines[m["name"]] = m["name"]
        if m.get("alias"):
            machines[m["alias"]] = m["name"]
    events = frozenset(e["name"] for e in answers[3].get("return", []) if e.get("meta-type") == "event")
    capabilities = frozenset(c["capability"] for c in answers[4].get("return", []))
    properties: dict[str, frozenset[str]] = {}
    for index, typename in enumerate(PROBED_DEVICES + PROBED_OBJECTS, start=5):
        answer = answers.get(index, {})
        if "return" in answer:  # an error: QEMU has no such type
            properties[typename] = frozenset(p["name"] for p in answer["return"])
    return QemuFacts(f"{q['major']}.{q['minor']}.{q['micro']}", version.get("package", "").strip(" ()"),
                     machines, properties, events, capabilities)


def _key(qemu: QemuBinary) -> str:
    path = qemu.resolved()
    st = os.stat(path)
    # The tree matters too: the same binary with other modules is another QEMU.
    ident = f"{_CACHE_FORMAT}\0{path}\0{st.st_size}\0{st.st_mtime_ns}\0{qemu.root}"
    return hashlib.sha256(ident.encode()).hexdigest()[:24]


def probe(qemu: QemuBinary) -> QemuFacts:
    """This QEMU's facts: asked once, then read from the cache."""
    cached = cache_dir("probes") / f"qemu-{_key(qemu)}.json"
    if cached.exists():
        try:
            return QemuFacts.of(json.loads(cached.read_text()))
        except (ValueError, KeyError, TypeError):
            pass  # an older or torn file: ask again
    facts = _facts(_ask(qemu))
    partial = cached.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(facts.to_json()))
    partial.replace(cached)
    return facts
