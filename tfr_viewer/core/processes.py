"""Worker processes that end with the process that started them.

A pool worker blocked on its task queue never notices that its parent was killed (the queue's
other end is held by its sibling workers), so it would live on for good, holding the parent's
stdout. `exit_with_parent` is a pool initializer that watches the parent's pid from a daemon
thread: with a pool started through a fork server the worker's own parent is the fork server,
so `os.getppid()` and Linux's `PR_SET_PDEATHSIG` watch the wrong process.
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_SECONDS = 0.5  # where the OS cannot wake us when a process ends


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists (a zombie counts as ended where we can tell)."""
    if sys.platform == "win32":
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def exit_with_parent(parent_pid: int, niceness: int = 0) -> None:
    """Pool initializer: end this process as soon as `parent_pid` has ended; lower its priority
    by `niceness` first when asked (background work yields the CPU).

    Use: `ProcessPoolExecutor(..., initializer=exit_with_parent, initargs=(os.getpid(),))`.
    """
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    threading.Thread(target=_watch, args=(parent_pid,), name="exit-with-parent", daemon=True).start()


def _watch(pid: int) -> None:
    if sys.platform == "win32":
        _windows_wait(pid)
    else:
        _posix_wait(pid)
    os._exit(1)  # no cleanup: the parent that wanted the results is gone


def _posix_wait(pid: int) -> None:
    """Return when `pid` has ended: a pidfd wakes us at once (Linux), else poll."""
    import select

    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):  # not Linux >= 5.3, or already gone
        fd = None
    if fd is not None:
        select.select([fd], [], [])
        return
    while pid_alive(pid):
        time.sleep(POLL_SECONDS)


_SYNCHRONIZE, _QUERY_LIMITED, _STILL_ACTIVE = 0x00100000, 0x1000, 259


def _windows_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(_QUERY_LIMITED, False, pid)
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        return bool(kernel32.GetExitCodeProcess(handle, ctypes.byref(code))) and code.value == _STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _windows_wait(pid: int) -> None:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(_SYNCHRONIZE, False, pid)
    if not handle:  # already gone (or not ours to open: then poll)
        while _windows_alive(pid):
            time.sleep(POLL_SECONDS)
        return
    kernel32.WaitForSingleObject(handle, 0xFFFFFFFF)
    kernel32.CloseHandle(handle)
