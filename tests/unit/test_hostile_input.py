"""Hostile input, one property per class of issue 27: each test makes its own instances of
the class (hypothesis) and checks the one root that handles it: one line, exit 2 (125
where the harness cannot judge), no traceback, no hang, nothing written outside the folder.
Nothing here boots QEMU."""
from __future__ import annotations

import contextlib
import errno
import io
import os
import shlex
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.analysis.log_commands import UnjudgedLog, replay_log
from harness.analysis.log_verdict import Outcome, hotplug_verdict
from harness.cli import main
from harness.errors import BadInputError, ExitCode
from harness.guest.agent import Agent
from harness.guest.initramfs_files import collect
from harness.lab.history import History, format_history
from harness.lab.matrix import run_matrix
from harness.lab.results import RunRecord
from harness.lab.spec import RunSettings, RunSpec, load_matrix
from harness.logparse import load_boot_log, parse_boot_log
from harness.memblock.kernel_engine.build import check_kernel_tree
from harness.paths import HOST_FULL, ArtifactWriteError, RunFile, cache_dir, private_dir, write_atomic, write_file
from harness.run.runner import check_cmdline_length
from harness.scenario.schema import load_scenario, parse_scenario
from harness.userinput import BOOT_LOG, MAX_TOML_DEPTH, SCENARIO, load_toml, read_bytes

ROOT = Path(__file__).resolve().parents[2]
DUMP_LOG = ROOT / "fixtures" / "logs" / "qemu-6.1-srat-override-hotplug-n1n2-movable-node.log"
THREE_NODE_LOG = ROOT / "fixtures" / "logs" / "qemu-6.1-three-node.log"
GOOD_SCENARIO = ROOT / "fixtures" / "scenarios" / "two-node-dimms.toml"
SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _cli(*args: str) -> tuple[int, str, str]:
    """``memhp ARGS`` in this process: (exit, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _one_line(result: tuple[int, str, str], code: int, *words: str) -> str:
    status, out, err = result
    assert "Traceback" not in out + err
    assert status == code, (status, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("memhp: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# ---- 1. special files wherever a path is taken -------------------------------------------

def _special(kind: str, folder: Path) -> Path:
    """A path that is not a regular file (made in ``folder``, or a device of the host)."""
    if kind in ("/dev/zero", "/dev/null"):
        return Path(kind)
    path = folder / f"special-{kind}"
    if path.exists() or path.is_symlink():
        return path
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
    return path


SPECIALS = st.sampled_from(["fifo", "dir", "loop", "socket", "/dev/zero", "/dev/null"])
# Every subcommand argument that is a path the user gives; {} is the special path.
PATH_ARGS = st.sampled_from([
    ("parse", "{}"), ("simulate", "{}"), ("replay", "{}"), ("field-compare", "{}", str(THREE_NODE_LOG)),
    ("field-compare", str(THREE_NODE_LOG), "{}"), ("srat", "show", "{}"), ("import", "--dmesg", "{}", "-o", "{out}"),
    ("import", "--srat", "{}", "-o", "{out}"), ("matrix", "{}"), ("parse", str(THREE_NODE_LOG), "--symbols", "{}"),
    ("history", "--db", "{}"), ("srat", "build", "{}", "-o", "{out}"), ("run", "{}", "--show-command"),
])


@SETTINGS
@given(kind=SPECIALS, args=PATH_ARGS)
def test_a_special_file_anywhere_a_path_is_taken_is_one_line_exit_2(tmp_path: Path, kind: str,
                                                                     args: tuple[str, ...]) -> None:
    special = _special(kind, tmp_path)
    argv = [a.format(special, out=tmp_path / "out.toml") for a in args]
    line = _one_line(_cli(*argv), ExitCode.BAD_INPUT, str(special))
    assert "regular file" in line or "cannot read" in line or "not a memhp" in line


@SETTINGS
@given(kind=SPECIALS)
def test_a_directory_or_fifo_as_output_is_one_line_exit_2(tmp_path: Path, kind: str) -> None:
    target = _special("dir" if kind in ("/dev/zero", "/dev/null", "loop", "socket") else kind, tmp_path)
    _one_line(_cli("srat", "build", str(GOOD_SCENARIO), "-o", str(target)), ExitCode.BAD_INPUT, str(target))


@SETTINGS
@given(kind=SPECIALS, inside=st.booleans())
def test_a_special_files_source_is_refused_never_dropped(tmp_path: Path, kind: str, inside: bool) -> None:
    """[[files]] source: a special file given, or inside a folder given, is named."""
    folder = tmp_path / "tree"
    folder.mkdir(exist_ok=True)
    if kind == "dir":
        kind = "loop"  # a folder is a fine source; a loop inside is not
    special = _special(kind, folder if inside else tmp_path)
    if inside and kind.startswith("/dev"):  # a link to the device inside the folder
        link = folder / f"link-{special.name}"
        if not link.is_symlink():
            link.symlink_to(special)
    source = folder if inside else special
    text = f'name = "f"\n[machine]\nnodes = [{{ memory = "1G", cpus = [0] }}]\n' \
           f'[[files]]\nsource = "{source}"\ndest = "/opt/x"\n'
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(BadInputError) as err:
        collect(load_scenario(path).files)
    assert "\n" not in str(err.value)


@SETTINGS
@given(extra=st.integers(1, 1 << 30))
def test_a_file_past_its_kinds_bound_is_refused_before_it_is_read(tmp_path: Path, extra: int) -> None:
    path = tmp_path / "big.log"
    with open(path, "wb") as fh:
        assert BOOT_LOG.limit is not None
        fh.truncate(BOOT_LOG.limit + extra)  # sparse: nothing is written or read
    with pytest.raises(BadInputError, match=r"big.log: \d+ bytes, but a boot log is at most 128 MiB"):
        read_bytes(path, BOOT_LOG)


def test_a_pipe_on_stdin_that_never_ends_stops_at_the_bound() -> None:
    """`memhp parse - < /dev/zero`: read up to the bound, then refused (not 11 GB)."""
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "parse", "-"], stdin=zero,
                              capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert proc.returncode == ExitCode.BAD_INPUT and "Traceback" not in proc.stderr
    assert proc.stderr == f"memhp: -: more than {128 << 20} bytes, but a boot log is at most 128 MiB\n"


# ---- 2. parser limits ------------------------------------------------------------------

NESTINGS = st.sampled_from([("a = ", "{b = ", "1", "}"), ("a = ", "[", "1", "]"),
                            ("a = ", "[{b = ", "1", "}]")])


@SETTINGS
@given(depth=st.integers(MAX_TOML_DEPTH + 1, 5000), shape=NESTINGS, matrix=st.booleans())
def test_toml_nested_past_the_bound_is_one_line(tmp_path: Path, depth: int,
                                                shape: tuple[str, str, str, str], matrix: bool) -> None:
    head, open_, leaf, close = shape
    path = tmp_path / "deep.toml"
    path.write_text(head + open_ * depth + leaf + close * depth + "\n")
    with pytest.raises(BadInputError, match=r"deep.toml: .*nested") as err:
        load_matrix(path) if matrix else load_scenario(path)
    assert "\n" not in str(err.value)


@SETTINGS
@given(depth=st.integers(0, MAX_TOML_DEPTH - 1), shape=NESTINGS)
def test_toml_within_the_bound_loads(tmp_path: Path, depth: int, shape: tuple[str, str, str, str]) -> None:
    head, open_, leaf, close = shape
    assume(1 + depth * open_.count("[") + depth * open_.count("{") <= MAX_TOML_DEPTH)  # "a" is level 1
    path = tmp_path / "ok.toml"
    path.write_text(head + open_ * depth + leaf + close * depth + "\n")
    assert "a" in load_toml(path, SCENARIO)


# ---- 3. non-finite and negative numbers ---------------------------------------------------

MATRIX_HEAD = 'kernels = ["debian:6.1"]\nscenarios = ["s.toml"]\n'
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30),
                    st.sampled_from(["inf", "nan", "-inf", "-0.0", "1e400"]))


def _toml_number(value: float | int | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _matrix(tmp_path: Path, body: str) -> Path:
    (tmp_path / "s.toml").write_text(GOOD_SCENARIO.read_text())
    path = tmp_path / "m.toml"
    path.write_text(MATRIX_HEAD + body)
    return path


@SETTINGS
@given(key=st.sampled_from(["timeout", "retries", "boot_timeout", "repeat"]), value=NUMBERS)
def test_matrix_numbers_are_finite_and_in_range_or_one_line(tmp_path: Path, key: str, value: float | int | str) -> None:
    path = _matrix(tmp_path, f"{key} = {_toml_number(value)}\n")
    try:
        settings_ = load_matrix(path).settings
    except BadInputError as err:
        assert str(err).startswith(f"{path}: {key}: expected") and "\n" not in str(err)
        return
    got = getattr(settings_, key)
    assert got == got and abs(got) != float("inf")  # finite
    assert got >= (1 if key != "retries" else 0)
    assert key != "retries" or got <= 10


@SETTINGS
@given(option=st.sampled_from([("matrix", "--workers"), ("run", str(GOOD_SCENARIO), "--boot-timeout")]),
       value=st.one_of(st.integers(-1000, 0).map(str), st.sampled_from(["nan", "inf", "-1", "0", "", "x", "1e999"])))
def test_cli_counts_and_times_refuse_nonsense_with_exit_2(option: tuple[str, ...], value: str) -> None:
    status, out, err = _cli(*option, value, "--show-command" if option[0] == "run" else "--db=/nonexistent/x")
    assert status == ExitCode.BAD_INPUT and "Traceback" not in out + err
    assert f"argument {option[-1]}" in err


# ---- 4. names that become paths ----------------------------------------------------------

@SETTINGS
@given(name=st.one_of(st.text(st.characters(codec="utf-8"), max_size=300), st.sampled_from(["../../x", "/tmp/x", "..", ".", "a/b", "x" * 300])))
def test_a_matrix_name_is_one_folder_under_out_matrix_or_refused(tmp_path: Path, name: str) -> None:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return  # not expressible as a basic TOML string: TOML syntax refuses it already
    path = _matrix(tmp_path, f'name = "{escaped}"\n')
    try:
        spec = load_matrix(path)
    except BadInputError as err:
        assert str(err).startswith(f"{path}: name: ") and "\n" not in str(err)
        return
    base = (tmp_path / "out" / "matrix").resolve()
    target = (base / spec.name).resolve()
    assert target.parent == base and len(spec.name.encode()) <= 255


DEST_PARTS = st.one_of(st.text(st.sampled_from("ab._-+0"), min_size=1, max_size=20), st.just("x" * 300),
                       st.sampled_from(["init", "agent.sh", "bin", "proc", "dev", "..", "."]))


@SETTINGS
@given(parts=st.lists(DEST_PARTS, min_size=1, max_size=4))
def test_a_files_dest_lands_inside_the_image_or_is_one_line(tmp_path: Path, parts: list[str]) -> None:
    source = tmp_path / "payload"
    source.write_bytes(b"data")
    dest = "/" + "/".join(parts)
    data = {"name": "f", "machine": {"nodes": [{"memory": "1G", "cpus": [0]}]},
            "files": [{"source": str(source), "dest": dest}]}
    root = tmp_path / "image"
    root.mkdir(exist_ok=True)
    (root / "init").write_bytes(b"#!/bin/sh\n")  # memhp's own, as in the real image
    try:
        for entry in collect(parse_scenario(data, "s.toml").files):
            entry.write_under(root)
    except BadInputError as err:
        assert "\n" not in str(err)
        return
    placed = (root / dest.lstrip("/")).resolve()
    assert placed.is_relative_to(root.resolve()) and placed.read_bytes() == b"data"


# ---- 5. databases of another kind ---------------------------------------------------------

def _db_variant(path: Path, variant: str, seed: bytes) -> None:
    if variant == "bytes":
        path.write_bytes(seed)
        return
    db = sqlite3.connect(path)
    if variant == "other-table":
        db.execute("CREATE TABLE other (x)")
    elif variant == "other-columns":
        db.execute("CREATE TABLE runs (a, b)")
    elif variant in ("bad-verdict", "cut"):
        History(path).__exit__(None, None, None)
    if variant == "bad-verdict":
        db.execute("INSERT INTO runs (matrix_run, matrix, date, run_id, kernel, release, scenario, variant, expect,"
                   " verdict, ok, failed_checks) VALUES ('r','m','d','id','k','rel','s','v','pass',?,1,'[]')",
                   (seed.hex() or "x",))
    db.commit()
    db.close()
    if variant == "cut":
        data = path.read_bytes()
        path.write_bytes(data[: max(100, len(data) // 2)] + seed)


@SETTINGS
@given(variant=st.sampled_from(["bytes", "other-table", "other-columns", "bad-verdict", "cut"]),
       seed=st.binary(min_size=1, max_size=200))
def test_a_database_not_memhps_is_refused_before_the_first_cell(tmp_path: Path, variant: str, seed: bytes) -> None:
    db = tmp_path / f"h-{variant}-{seed.hex()[:16]}.sqlite"
    _db_variant(db, variant, seed)
    try:
        format_history(db)
    except BadInputError as err:
        assert str(err).startswith(str(db)) and "\n" not in str(err)
    else:
        return  # the bytes happened to be an empty, usable database (never for tables of another schema)
    ran: list[RunSpec] = []

    def run_fn(run: RunSpec, out: Path, settings_: RunSettings) -> RunRecord:
        ran.append(run)
        raise AssertionError("no cell may run with a bad database")

    with pytest.raises(BadInputError):
        run_matrix(_matrix(tmp_path, ""), tmp_path / "out", 1, None, db, progress=False, run_fn=run_fn)
    assert ran == [] and db.read_bytes()  # untouched: nothing appended or created over it


# ---- 6. claims about what does not exist ----------------------------------------------------

@SETTINGS
@given(nodes=st.integers(1, 4), movable=st.lists(st.integers(-2, 9), max_size=3),
       not_movable=st.lists(st.integers(-2, 9), max_size=3), hotplug=st.lists(st.integers(-2, 9), max_size=3))
def test_expect_about_missing_nodes_or_contradictions_is_refused_at_load(
        nodes: int, movable: list[int], not_movable: list[int], hotplug: list[int]) -> None:
    data = {"name": "e", "machine": {"nodes": [{"memory": "1G", "cpus": [0]}] + [{"memory": "1G"}] * (nodes - 1)},
            "expect": {"movable": [{"node": n, "start": "0x100000000"} for n in movable],
                       "not_movable": not_movable, "hotplug": [{"node": n, "honoured": True} for n in hotplug]}}
    sound = (all(0 <= n < nodes for n in movable + not_movable + hotplug)
             and len(set(movable)) == len(movable) and len(set(not_movable)) == len(not_movable)
             and len(set(hotplug)) == len(hotplug) and not set(movable) & set(not_movable))
    try:
        parse_scenario(data, "e.toml")
    except BadInputError as err:
        assert not sound, err
        assert str(err).startswith("e.toml: expect.") and "\n" not in str(err)
        return
    assert sound


# ---- 7. inputs that are not what they claim ---------------------------------------------------

@SETTINGS
@given(text=st.text(st.characters(codec="utf-8"), max_size=400))
def test_text_that_is_not_a_boot_log_is_never_identical(tmp_path: Path, text: str) -> None:
    path = tmp_path / "not-a-log.txt"
    path.write_text(text)
    status, out, err = _cli("field-compare", str(path), str(path))
    assert status in (ExitCode.BAD_INPUT, ExitCode.CANNOT_TEST) and "IDENTICAL" not in out, (status, out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _first_dump_lines(lines: list[str]) -> tuple[int, int]:
    start = next(i for i, line in enumerate(lines) if "MEMBLOCK configuration:" in line)
    end = start + 1
    while end < len(lines) and ("memory" in lines[end] or "reserved" in lines[end]):
        end += 1
    return start, end


@SETTINGS
@given(data=st.data())
def test_a_log_cut_inside_a_memblock_dump_is_never_clean(tmp_path: Path, data: st.DataObject) -> None:
    lines = DUMP_LOG.read_text().splitlines(keepends=True)
    start, end = _first_dump_lines(lines)
    # Cut after a region line the count says is not the last (header, sizes, cnt lines first).
    regions = [i for i in range(start, end - 1) if "memory[0x" in lines[i] or "reserved[0x" in lines[i]]
    cut = data.draw(st.sampled_from(regions))
    path = tmp_path / "cut.log"
    path.write_text("".join(lines[: cut + 1]))
    log = load_boot_log(path)
    assert log.truncated and hotplug_verdict(log).outcome is not Outcome.CLEAN
    with pytest.raises(UnjudgedLog) as err:
        replay_log(path, "python", None, False)
    assert err.value.exit_code == ExitCode.CANNOT_TEST and "truncated" in str(err.value)


def test_a_whole_log_is_not_truncated() -> None:
    assert load_boot_log(DUMP_LOG).truncated is None


# ---- 8. limits of the guest ---------------------------------------------------------------

@SETTINGS
@given(length=st.integers(0, 5000), release=st.sampled_from(["6.1.0-57-amd64", "6.12.1-amd64", "2.6.32", "9.9.9"]))
def test_a_command_line_past_command_line_size_is_refused_naming_length_and_limit(length: int, release: str) -> None:
    line = "x" * length
    if length <= 2047:
        check_cmdline_length(line, release, "s.toml")
        return
    with pytest.raises(BadInputError, match=rf"s.toml: kernel.cmdline: .* is {length} bytes, .* at most 2047"):
        check_cmdline_length(line, release, "s.toml")


# ---- 9. loose ends ------------------------------------------------------------------------

@SETTINGS
@given(blank=st.text(" \t\n", max_size=3), command=st.sampled_from(["run", "simulate", "compare"]))
def test_an_empty_kernel_is_refused(blank: str, command: str) -> None:
    status, out, err = _cli(command, str(GOOD_SCENARIO), f"--kernel={blank}")
    assert status == ExitCode.BAD_INPUT and "argument --kernel" in err and "Traceback" not in err


@SETTINGS
@given(names=st.lists(st.text(min_size=1, max_size=30).filter(lambda t: "\0" not in t), min_size=1, max_size=5))
def test_replay_tree_that_is_not_a_kernel_tree_is_bad_input(tmp_path: Path, names: list[str]) -> None:
    tree = tmp_path / "tree"
    tree.mkdir(exist_ok=True)
    for name in names:
        with contextlib.suppress(OSError):
            (tree / name.replace("/", "_")).write_text("x")
    with pytest.raises(BadInputError, match="not a kernel tree"):
        check_kernel_tree(tree)


@SETTINGS
# "," separates a local kernel spec's extras (kernels.spec), "~" is expanded: not path text there.
@given(part=st.text(st.characters(codec="utf-8", blacklist_characters="/\0,~"), min_size=1, max_size=20))
def test_show_command_pastes_back_as_the_same_words(tmp_path: Path, part: str) -> None:
    """A kernel path with a space, a quote or a newline is one word when pasted."""
    import kernels

    original = tmp_path / "bzImage"
    if not original.exists():
        original.write_bytes(kernels.resolve("debian:6.1").bzimage.read_bytes())
    folder = tmp_path / part
    with contextlib.suppress(OSError):
        folder.mkdir(exist_ok=True)
    if not folder.is_dir() or part in (".", ".."):
        return
    image = folder / "bzImage"
    if not image.exists():
        os.link(original, image)  # not a symlink: the kernel's path is resolved
    status, out, err = _cli("run", str(GOOD_SCENARIO), "--kernel", str(image), "--show-command")
    assert status == 0, err
    argv = shlex.split(out)
    assert argv[argv.index("-kernel") + 1] == str(image)


# ---- 10. a disk that fills (or is read-only) ----------------------------------------------

@contextlib.contextmanager
def _disk_fills_after(budget: int, code: int) -> Iterator[None]:
    """os.write accepts ``budget`` bytes, then fails as a full (or read-only) disk does."""
    real_write, real_replace = os.write, os.replace
    left = [budget]

    def write(fd: int, data: bytes | memoryview) -> int:
        if left[0] <= 0:
            raise OSError(code, os.strerror(code))
        n = real_write(fd, bytes(data[: left[0]]))
        left[0] -= n
        return n

    def replace(src: str | Path, dst: str | Path) -> None:
        if code == errno.EROFS:
            raise OSError(code, os.strerror(code), str(src))
        real_replace(src, dst)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "write", write)
        mp.setattr(os, "replace", replace)
        yield


ERRNOS = st.sampled_from(sorted(HOST_FULL))


def _run_file(path: Path, data: bytes) -> None:
    with RunFile(path) as fh:
        fh.write(data)


@SETTINGS
@given(budget=st.integers(0, 5000), size=st.integers(1, 8000), code=ERRNOS,
       how=st.sampled_from(["write_file", "write_atomic", "runfile"]))
def test_every_run_write_on_a_full_disk_names_its_file(tmp_path: Path, budget: int, size: int, code: int,
                                                        how: str) -> None:
    path = tmp_path / f"artifact-{how}"
    path.unlink(missing_ok=True)
    writer: Callable[[Path, bytes], None] = {
        "write_file": write_file, "write_atomic": write_atomic, "runfile": _run_file}[how]
    with _disk_fills_after(budget, code):
        try:
            writer(path, b"x" * size)
        except ArtifactWriteError as err:
            assert err.paths == (path,) and err.exit_code == ExitCode.CANNOT_TEST
            assert budget < size or (how == "write_atomic" and code == errno.EROFS)
            assert how == "runfile" or not path.exists()  # whole or not at all
        else:
            assert path.read_bytes() == b"x" * size
    assert not list(tmp_path.glob("*.tmp"))


@SETTINGS
@given(budget=st.integers(0, 300), code=ERRNOS)
def test_the_agent_transcript_on_a_full_disk_is_could_not_test_not_a_guest_failure(
        tmp_path: Path, budget: int, code: int) -> None:
    """The traceback of issue 27: a full disk under agent.log ended as exit 1 from close()."""
    host, guest = socket.socketpair()
    transcript = tmp_path / f"agent-{budget}-{code}.log"
    try:
        with _disk_fills_after(budget, code):
            agent = Agent(host, transcript, lambda: None)
            sender = threading.Thread(target=guest.sendall, args=(b"boot noise " * 20 + b"@@MEMHP-READY 6.1.0\n",))
            sender.start()
            try:
                agent.wait_ready(5)
            except ArtifactWriteError as err:
                assert err.paths == (transcript,) and err.exit_code == ExitCode.CANNOT_TEST
            finally:
                sender.join()
                agent.close()  # nothing buffered: closing never fails
    finally:
        host.close()
        guest.close()


def test_a_bad_scenario_on_a_read_only_out_is_one_line_125(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[machine]\nnodes = [{ memory = "100M" }]\n')
    with _disk_fills_after(0, errno.EROFS):
        status, out, err = _cli("run", str(bad), "--out", str(tmp_path / "o"))
    assert status == ExitCode.CANNOT_TEST and "Traceback" not in out + err
    assert err.strip().splitlines() == [f"memhp: could not write {tmp_path / 'o' / 'result.json'}: "
                                        f"Read-only file system (the run had ended: {bad}: "
                                        "machine.nodes[0].memory: 0x6400000 is not a positive multiple "
                                        "of the 128 MiB memory block size)"]


# ---- 11. permissions ----------------------------------------------------------------------

@SETTINGS
@given(parts=st.lists(st.text("xyz", min_size=1, max_size=3), min_size=1, max_size=3),
       umask=st.sampled_from([0, 0o022, 0o002]))
def test_run_folders_and_files_are_private_whatever_the_umask(tmp_path: Path, parts: list[str], umask: int) -> None:
    old = os.umask(umask)
    try:
        folder = private_dir(tmp_path.joinpath("new", *parts))
        write_file(folder / "a", b"1")
        write_atomic(folder / "b", b"2")
        RunFile(folder / "c").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE((folder / n).stat().st_mode) for n in "abc"} == {0o600}


def test_caches_are_private_even_when_made_open_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMHP_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "initrd").mkdir(parents=True, mode=0o755)
    os.chmod(tmp_path / "cache" / "initrd", 0o755)
    assert stat.S_IMODE(cache_dir("initrd").stat().st_mode) == 0o700
    assert stat.S_IMODE(cache_dir("fresh").stat().st_mode) == 0o700


def test_a_run_folder_and_its_result_are_private_and_the_callers_umask_kept(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[machine]\nnodes = [{ memory = "100M" }]\n')
    out = tmp_path / "run"
    before = os.umask(0o022)
    try:
        _cli("run", str(bad), "--out", str(out))
        assert os.umask(0o022) == 0o022  # main() restores what it changed
    finally:
        os.umask(before)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "result.json").stat().st_mode) == 0o600


def test_stdin_boot_log_parses_like_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """``-`` reads stdin where a boot log is taken (a pipe has no size to check first)."""
    data = THREE_NODE_LOG.read_bytes()
    read, write = os.pipe()

    def feed() -> None:
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)

    threading.Thread(target=feed, daemon=True).start()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(os.fdopen(read, "rb")))
    assert read_bytes("-", BOOT_LOG) == data
    assert parse_boot_log(data.decode(), "-").srat_memory == load_boot_log(THREE_NODE_LOG).srat_memory
