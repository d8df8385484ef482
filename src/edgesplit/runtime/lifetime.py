"""Nothing outlives what started it: a process started by a launcher dies with it (the kernel's
parent-death signal, set between fork and exec), and a process that cannot rely on that (a
server's lanes, started from whichever thread restarts them) watches its parent and leaves when
it is gone. Also what a launcher checks before it starts anything: the memory the run needs."""

from __future__ import annotations

import ctypes
import os
import signal
import threading

PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCH_S = 0.5


def die_with_parent() -> None:
    """In a child between fork and exec (``subprocess.Popen(preexec_fn=...)``): SIGKILL this
    process when the parent dies (Linux; elsewhere nothing)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def watch_parent() -> None:
    """Leave (exit status 1, no clean-up: the parent that would wait for it is gone) once this
    process's parent has died; a daemon thread checks every ``WATCH_S``."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            threading.Event().wait(WATCH_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


def tree_rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` and every process below it (0 once it is
    gone): what a server with its lanes, or an agent process, holds."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as file:
                total += next(
                    (int(line.split()[1]) * 1024 for line in file if line.startswith("VmRSS:")), 0
                )
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as file:
                    pending += [int(child) for child in file.read().split()]
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return total


def available_memory_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None
