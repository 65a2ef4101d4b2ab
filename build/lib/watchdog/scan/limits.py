"""Run a child process under a wall-clock and a memory limit, so that no scan can hang or swap the host.

Memory is watched as the resident size of the child's whole process group (the compiler runs in a
grandchild), because an address-space rlimit would break node's WebAssembly reservations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(slots=True)
class LimitedResult:
    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    out_of_memory: bool = False
    peak_rss_mb: float = 0.0


def group_rss_kb(pgid: int) -> int:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid:  # fields after "pid (comm)": state ppid pgrp ... rss at index 21
            total += int(fields[21]) * PAGE_KB
    return total


def run_limited(
    cmd: list[str], stdin: bytes, *, timeout: float, max_rss_mb: int, env: dict[str, str] | None = None, cwd: Path | None = None
) -> LimitedResult:
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True
    )
    state = {"oom": False, "peak": 0}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            rss = group_rss_kb(proc.pid)
            state["peak"] = max(state["peak"], rss)
            if rss > max_rss_mb * 1024:
                state["oom"] = True
                _kill_group(proc.pid)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    timed_out = False
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        stdout, stderr = proc.communicate()
    finally:
        done.set()
        _kill_group(proc.pid)  # stray grandchildren (a compiler) must not outlive the scan
    watcher.join()
    return LimitedResult(proc.returncode, stdout, stderr, timed_out, state["oom"], state["peak"] / 1024)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
