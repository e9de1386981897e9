"""Matrix files: the cross product, exclusions, variants and one-line errors."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from must_fail_claims import MUST_FAIL

from harness.errors import BadInputError
from harness.lab.spec import load_matrix
from harness.run.verdict import Verdict
from harness.scenario.cmdline import kernel_cmdline
from harness.scenario.schema import load_scenario
from harness.units import has_flag

NIGHTLY = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "nightly.toml"


MACHINE = '[machine]\nnodes = [{ memory = "1G", cpus = [0] }]\n'


def _write(tmp_path: Path, body: str, claims: str = 'false_claims = ["node distances"]\n') -> Path:
    (tmp_path / "s").mkdir(exist_ok=True)
    for name in ("a", "b"):
        (tmp_path / "s" / f"{name}.toml").write_text(f'name = "{name}"\n{MACHINE}')
    (tmp_path / "s" / "bad").mkdir(exist_ok=True)
    (tmp_path / "s" / "bad" / "a-claims.toml").write_text(f'extends = "../a.toml"\nname = "x"\n{claims}')
    path = tmp_path / "m.toml"
    path.write_text(body)
    return path


def test_nightly_is_every_kernel_times_every_shipped_scenario() -> None:
    spec = load_matrix(NIGHTLY)
    scenarios = Path(NIGHTLY).parents[1] / "scenarios"
    every = list(scenarios.glob("*.toml")) + list(scenarios.glob("must-fail/*.toml"))
    # CXL's need a newer QEMU than the host's: their own matrix (fixtures/matrix/cxl.toml).
    cxl = [p for p in every if load_scenario(p).cxl]
    kernels = ["debian:6.1", "debian:6.12", "debian:lts", "debian:latest"]
    assert len([r for r in spec.runs if r.variant.name == "default"]) == len(kernels) * (len(every) - len(cxl))
    cxl_spec = load_matrix(Path(NIGHTLY).parent / "cxl.toml")
    assert sorted({r.scenario.resolve() for r in cxl_spec.runs}) == sorted(p.resolve() for p in cxl)
    assert sorted({r.kernel for r in spec.runs}) == sorted(kernels)
    assert all(r.expect is Verdict.FAIL for r in spec.runs if "must-fail" in str(r.scenario))
    # A sibling's FAIL means something only next to its pass scenario on the same kernel and
    # variant: the runs of the matrix pair up (which checks must fail is pinned per sibling
    # in tests/must_fail_claims.py, offline and by boot).
    passing = {(r.scenario.resolve(), r.kernel, r.variant) for r in spec.runs if r.expect is Verdict.PASS}
    for run in (r for r in spec.runs if r.expect is Verdict.FAIL):
        assert run.scenario_name in MUST_FAIL, run.run_id
        extends = tomllib.loads(run.scenario.read_text())["extends"]
        assert ((run.scenario.parent / extends).resolve(), run.kernel, run.variant) in passing, run.run_id


def test_nightly_zone_variants_run_every_movable_node_scenario() -> None:
    """kernelcore=/movablecore= are ignored under movable_node (find_zone_movable_pfns_for_nodes),
    so those scenarios keep their verdicts; the others' zone claims would not hold. CXL
    scenarios need a newer QEMU than the system's: fixtures/matrix/cxl.toml runs them."""
    spec = load_matrix(NIGHTLY)
    scenarios = Path(NIGHTLY).parents[1] / "scenarios"
    movable_node = {p.stem for p in [*scenarios.glob("*.toml"), *scenarios.glob("must-fail/*.toml")]
                    if has_flag(kernel_cmdline(load_scenario(p)), "movable_node") and not load_scenario(p).cxl}
    for variant in ("kernelcore", "movablecore"):
        runs = [r for r in spec.runs if r.variant.name == variant]
        assert {r.scenario_name for r in runs} == movable_node and len(runs) == 4 * len(movable_node)


def test_cross_product_with_variants_and_excludes(tmp_path: Path) -> None:
    path = _write(tmp_path, """
kernels = ["debian:6.1", "debian:6.12"]
scenarios = ["s/*.toml"]
must_fail = ["s/bad/*.toml"]
[[variants]]
name = "plain"
[[variants]]
name = "nohp"
cmdline = " memhp_default_state=offline "
[[exclude]]
kernel = "debian:6.12"
variant = "nohp"
[[exclude]]
scenario = "b"
""")
    spec = load_matrix(path)
    ids = {r.run_id for r in spec.runs}
    assert ids == {"a@debian-6.1+plain", "a@debian-6.1+nohp", "a-claims@debian-6.1+plain",
                   "a-claims@debian-6.1+nohp", "a@debian-6.12+plain", "a-claims@debian-6.12+plain"}
    nohp = next(r for r in spec.runs if r.variant.name == "nohp")
    assert nohp.variant.cmdline == "memhp_default_state=offline"
    assert spec.name == "m" and spec.settings.retries == 1 and spec.settings.repeat == 1
    repeated = _write(tmp_path, "repeat = 20\n" + path.read_text())
    assert load_matrix(repeated).settings.repeat == 20
    assert spec.settings.boot == "bzimage"
    assert load_matrix(_write(tmp_path, 'boot = "pvh"\n' + path.read_text())).settings.boot == "pvh"


def test_qemus_axis_multiplies_the_cells_and_command_line_replaces_it(tmp_path: Path) -> None:
    path = _write(tmp_path, """
kernels = ["debian:6.1"]
qemus = ["system", "/opt/qemu-10"]
scenarios = ["s/*.toml"]
must_fail = ["s/bad/*.toml"]
[[exclude]]
qemu = "/opt/qemu-10"
scenario = "a-claims"
""")
    ids = {r.run_id for r in load_matrix(path).runs}
    assert ids == {"a@debian-6.1+default", "b@debian-6.1+default", "a-claims@debian-6.1+default",
                   "a@debian-6.1+default+qemu-opt-qemu-10", "b@debian-6.1+default+qemu-opt-qemu-10"}
    only = load_matrix(path, ("debian:10.0",)).runs
    assert {r.qemu for r in only} == {"debian:10.0"} and len(only) == 3


def test_a_must_fail_cell_without_false_claims_is_bad_input(tmp_path: Path) -> None:
    """Else a sibling failing for any reason would count as the expected FAIL."""
    path = _write(tmp_path, 'kernels = ["k"]\nscenarios = ["s/a.toml"]\nmust_fail = ["s/bad/*.toml"]\n',
                  claims="")
    with pytest.raises(BadInputError, match=r"must_fail: .*a-claims.toml declares no false_claims"):
        load_matrix(path)


@pytest.mark.parametrize(("body", "message"), [
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\nworkers = 3\n', "unknown key(s): workers"),
    ('kernels = []\nscenarios = ["s/*.toml"]\n', "kernels: expected a non-empty list"),
    ('kernels = ["k"]\nscenarios = ["nothing/*.toml"]\n', "scenarios: 'nothing/*.toml' matches no file"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\n[[variants]]\nname = "x"\n[[variants]]\nname = "x"\n',
     "variants: names must be unique"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\n[[exclude]]\nnode = "1"\n', "exclude[0]"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\ntimeout = -1\n', "timeout: expected a finite number >= 1"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\n[[variants]]\nname = "x"\nonly_with = "a b"\n',
     "variants[0]: name must match"),
    ('kernels = ["k"\n', "TOML syntax"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\nrepeat = 0\n', "repeat: expected a positive integer"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\nrepeat = 2.5\n', "repeat: expected a positive integer"),
    ('kernels = ["k"]\nscenarios = ["s/*.toml"]\nboot = "efi"\n', "boot: expected bzimage or pvh"),
    ('kernels = ["k"]\nqemus = ["a", "a"]\nscenarios = ["s/*.toml"]\n', "qemus: expected a non-empty list"),
    ('kernels = ["k"]\nqemus = "system"\nscenarios = ["s/*.toml"]\n', "qemus: expected a non-empty list"),
])
def test_bad_matrix_is_one_line_naming_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    path = _write(tmp_path, body)
    with pytest.raises(BadInputError) as err:
        load_matrix(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)
