"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

import os
import pathlib
import tempfile
import threading

_UMASK_LOCK = threading.Lock()


def _current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    Linux reports it in /proc/self/status; elsewhere it is read by setting and restoring
    it (under a lock, so two writers of this module never race on it).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


def atomic_write_bytes(path, payload: bytes) -> pathlib.Path:
    """Writes `payload` to a temporary file beside `path`, syncs it, renames it into place.

    Creates the parent directory if needed (mode `0o777 & ~umask`). The file gets mode
    `0o666 & ~umask`, as `open(path, "wb")` would give it: the temporary file
    `tempfile.mkstemp` creates is private (0600), and the final file must not be. On any
    error the temporary file is removed and `path` is left as it was.

    Args:
      path: the file to write.
      payload: its new contents.

    Returns:
      `path` as a `pathlib.Path`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o666 & ~_current_umask())
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str) -> pathlib.Path:
    """`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))
