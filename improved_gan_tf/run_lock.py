"""One training process per run directory: an exclusive lock on `DIR/.lock`.

`RunLock(directory).acquire()` takes an exclusive `fcntl.flock` on the open file
`DIR/.lock` and writes the holder's PID and host name into it. The lock belongs to the
open file, so the kernel releases it when the process ends in any way, SIGKILL
included: a killed run never leaves a stale lock, and nothing has to guess whether a
recorded PID is still alive. A second process (or a second `RunLock` in the same
process) that tries the same directory gets `RunDirectoryBusyError`, which names the
holder's PID, at once instead of waiting.

Its contents are only a note for the error message. `train` removes the file when it
ends (a killed run leaves it, unlocked and harmless). A holder that removes it (`release(remove=True)`) does so while still holding the lock, and
`acquire` checks, once it holds a lock, that the file it locked is still the one at
`DIR/.lock`, so two processes never hold two different lock files of one directory. `flock` works on local file systems and on NFS (Linux emulates it with POSIX
locks there).

TF-free, like `rundir`.

Example:

    with RunLock("runs/quickstart"):
        ...  # this process is the only one training in runs/quickstart
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import socket
import time

from improved_gan_tf.errors import UserInputError

LOCK_FILENAME = ".lock"


class RunDirectoryBusyError(UserInputError, RuntimeError):
    """Another process holds the run directory's lock; the message names its PID."""

    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder or {}


def read_holder(path) -> dict:
    """The `{"pid", "host", "since"}` note of a lock file ({} if unreadable or empty)."""
    try:
        values = json.loads(pathlib.Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


class RunLock:
    """The exclusive lock of one directory (see the module docstring).

    Args:
        directory: the run directory (created if missing).
    """

    def __init__(self, directory):
        self.directory = pathlib.Path(directory)
        self.path = self.directory / LOCK_FILENAME
        self._fd: int | None = None

    def __repr__(self):
        return f"RunLock({str(self.directory)!r}, held={self.held})"

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> "RunLock":
        """Takes the lock without waiting; returns self.

        Raises:
            RunDirectoryBusyError: another process (or another `RunLock` object) holds it.
            OSError: the directory cannot be created or the lock file opened.
        """
        if self._fd is not None:
            return self
        while True:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = self._lock_file()
            if fd is not None:
                break
        note = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        payload = (json.dumps(note) + "\n").encode("utf-8")
        try:
            os.pwrite(fd, payload, 0)
            os.ftruncate(fd, len(payload))  # an older holder's longer note
        except BaseException:
            os.close(fd)  # releases the lock
            raise
        self._fd = fd
        return self

    def _lock_file(self) -> int | None:
        """The locked descriptor of the lock file; None if the file was replaced meanwhile."""
        # No O_TRUNC: the holder's note must survive a refused attempt. The descriptor
        # is not inherited by child processes (Python's default), so a subprocess
        # cannot keep the lock alive after its parent died.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # A holder that removed the file (`release(remove=True)`) before we locked
            # it left us the lock of a file nobody else will open: try again.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return None
            return fd
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.path)
            who = f"PID {holder['pid']}" if "pid" in holder else "another process"
            if holder.get("host"):
                who += f" on {holder['host']}"
            raise RunDirectoryBusyError(
                f"{self.directory} is in use by {who} (lock file {self.path}): only one "
                "training process may use a run directory at a time; wait for it to end "
                "or stop it, or train into another --workdir.",
                holder,
            ) from None
        except BaseException:
            os.close(fd)
            raise

    def release(self, remove: bool = False) -> None:
        """Releases the lock (a no-op when not held).

        Args:
            remove: also delete the lock file, while still holding it (a start that
                failed in a directory it created leaves nothing behind). A process
                waiting for the same file notices and locks a new one.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if remove:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

    def __del__(self):
        # A lock object dropped without `release` (an exception in a caller) must not
        # keep the directory busy for the rest of the process.
        try:
            self.release()
        except Exception:
            pass
