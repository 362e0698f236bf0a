"""One process per run folder.

``genzoo train``/``resume`` hold an exclusive ``flock`` on ``RUN/.lock`` while they run, so a second
process aimed at the same folder stops with a message instead of interleaving ``metrics.jsonl`` and
overwriting checkpoints. The operating system drops the lock when its process ends for any reason (exit,
Ctrl-C, SIGKILL, a crash), so a lock left by a killed process never blocks ``resume``; the file's text
(pid, host, command, start time) only serves the message.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: runs there are not locked
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


class RunInUseError(RuntimeError):
    """Another live process is training or resuming this run folder."""


class RunLock:
    """An exclusive, advisory lock on a run folder, held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, command: str) -> "RunLock":
        if fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = self._describe(fd)
            os.close(fd)
            raise RunInUseError(
                f"{self.run_dir} is in use by another genzoo process ({holder}): two processes would interleave "
                f"its metrics and overwrite each other's checkpoints. Wait for it to finish, or stop it (Ctrl-C "
                f"writes a checkpoint) and then `genzoo resume {self.run_dir}`") from None
        os.ftruncate(fd, 0)
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                "argv": " ".join(sys.argv[1:])[:200], "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.write(fd, (json.dumps(info) + "\n").encode())
        self._fd = fd
        return self

    @staticmethod
    def _describe(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            return f"pid {info['pid']} on {info['host']}, `genzoo {info['command']}` since {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown"

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
