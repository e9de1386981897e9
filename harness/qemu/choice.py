"""Which QEMU a run uses: the command line's, the scenario's, or one that can run it.

In order: a ``--qemu`` other than the default ``system`` (the command line wins over the
scenario); else the scenario's ``machine.qemu`` (any ``--qemu`` spec); else the system
QEMU, and when its probe says it cannot run the scenario (CXL's ``volatile-memdev`` on
Debian 12's 7.2), the host release's backports QEMU
(:data:`harness.qemu.archive.BACKPORTS`), as a lab on that release would install it.
Whenever the QEMU that runs is not the one asked for (or a scenario's is overruled), one
line says so (:attr:`ChosenQemu.why`). A QEMU asked for by name that cannot run the
scenario is refused (exit 2), never replaced: the user chose it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInputError, InfrastructureError
from harness.qemu.archive import BACKPORTS, host_release
from harness.qemu.binary import SYSTEM, QemuBinary
from harness.qemu.facts import Need, QemuFacts
from harness.qemu.probe import probe
from harness.qemu.resolve import resolve_qemu


@dataclass(frozen=True)
class ChosenQemu:
    qemu: QemuBinary
    facts: QemuFacts
    why: str | None = None  # one line when the QEMU that runs is not simply --qemu's


def _refusal(where: Path, qemu: QemuBinary, facts: QemuFacts, missing: list[str]) -> BadInputError:
    return BadInputError(f"{where}: {facts.label} ({qemu.resolved()}) cannot run it: "
                         f"no {', no '.join(missing)}")


def choose_qemu(where: Path, given: str, named: str | None, needs: Sequence[Need]) -> ChosenQemu:
    """The QEMU to run ``where``'s scenario: ``given`` is ``--qemu`` (``system`` when not
    given), ``named`` the scenario's ``machine.qemu``, ``needs`` what it asks of QEMU."""
    if given != SYSTEM or named is None:
        spec = given
        why = (f"--qemu {given} instead of the scenario's machine.qemu = {named!r} (the command line wins)"
               if named is not None and named != given else None)
    else:
        spec, why = named, f"the scenario's machine.qemu = {named!r}"
    try:
        qemu = resolve_qemu(spec)
    except BadInputError as err:
        if spec == given:
            raise
        raise BadInputError(f"{where}: machine.qemu: {err}") from None
    facts = probe(qemu)
    missing = facts.missing(needs)
    if not missing:
        return ChosenQemu(qemu, facts, why)
    backports = BACKPORTS.get(host_release() or "")
    if spec != SYSTEM or backports is None:
        raise _refusal(where, qemu, facts, missing)
    try:
        other = resolve_qemu(backports)
        other_facts = probe(other)
    except (BadInputError, InfrastructureError) as err:
        raise BadInputError(f"{_refusal(where, qemu, facts, missing)}; {backports} could not "
                            f"stand in: {err}") from None
    if other_facts.missing(needs):
        raise _refusal(where, qemu, facts, missing)
    return ChosenQemu(other, other_facts,
                      f"ran {other_facts.label} ({backports}, this host release's backports): "
                      f"the system {facts.label} has no {', no '.join(missing)}")
