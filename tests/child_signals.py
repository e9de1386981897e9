"""What a child a test will interrupt needs of its signals."""
from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` for a child a test sends Ctrl-C: SIGINT as a terminal's foreground job
    has it. A suite started as a background job of a non-interactive shell inherits SIGINT
    ignored (bash ignores SIGINT in asynchronous commands without job control), and Python
    keeps an inherited SIG_IGN, so the child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
