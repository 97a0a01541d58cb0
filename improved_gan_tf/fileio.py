"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

import os
import pathlib
import tempfile


def atomic_write_bytes(path, payload: bytes) -> pathlib.Path:
    """Writes `payload` to a temporary file beside `path`, syncs it, renames it into place.

    Creates the parent directory if needed. On any error the temporary file is removed
    and `path` is left as it was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
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
