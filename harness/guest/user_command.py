"""The scenario's ``run`` action: a user's program in the guest, its exit status the outcome."""
from __future__ import annotations

from harness.guest.command import CommandResult
from harness.paths import write_file
from harness.guest.vm import GuestVM
from harness.scenario.schema import RunCommand


def keep_output(vm: GuestVM, name: str, res: CommandResult) -> dict[str, object]:
    """Both streams as files in the run's folder (``commands/NAME.stdout``/``.stderr``);
    the JSON form of the result names them."""
    folder = vm.out_dir / "commands"
    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, object] = res.to_json()
    for stream, data in (("stdout", res.stdout), ("stderr", res.stderr)):
        path = folder / f"{name}.{stream}"
        write_file(path, data)
        record[f"{stream}_file"] = str(path.relative_to(vm.out_dir))
    return record


def user_command(vm: GuestVM, action: RunCommand) -> tuple[bool, str, dict[str, object]]:
    """(succeeded, reason, the command's record) for the action's result."""
    res = vm.run(action.argv, action.timeout)
    record = keep_output(vm, action.id, res)
    succeeded = not res.timed_out and res.status == action.status
    wanted = "" if res.timed_out or succeeded else f" (expected {action.status})"
    last = res.last_line()
    return succeeded, res.describe() + wanted + (f": {last}" if last else ""), record
