"""The scenario's ``run`` action: a user's program in the guest, its exit status the outcome."""
from __future__ import annotations

from harness.guest.command import CommandRecord, CommandResult
from harness.paths import write_file
from harness.guest.vm import GuestVM
from harness.scenario.schema import RunCommand


def keep_output(vm: GuestVM, name: str, res: CommandResult) -> CommandRecord:
    """Both streams as files in the run's folder (``commands/NAME.stdout``/``.stderr``),
    which the record names."""
    folder = vm.out_dir / "commands"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for stream, data in (("stdout", res.stdout), ("stderr", res.stderr)):
        path = folder / f"{name}.{stream}"
        write_file(path, data)
        files.append(str(path.relative_to(vm.out_dir)))
    return res.record(*files)


def user_command(vm: GuestVM, action: RunCommand) -> tuple[bool, str, CommandRecord]:
    """(succeeded, reason, the command's record) for the action's result."""
    res = vm.run(action.argv, action.timeout)
    record = keep_output(vm, action.id, res)
    succeeded = not res.timed_out and res.status == action.status
    wanted = "" if res.timed_out or succeeded else f" (expected {action.status})"
    last = res.last_line()
    return succeeded, res.describe() + wanted + (f": {last}" if last else ""), record
