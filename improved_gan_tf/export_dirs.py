"""TF Serving version directories: numbering, and writing several versions together.

TF Serving polls `EXPORT_BASE/<model_name>/` and serves the numbered subdirectories
(`EXPORT_BASE/<model_name>/<version>/saved_model.pb`). `write_versions` writes each
SavedModel into a hidden sibling directory (a leading dot and a non-numeric name: the
server ignores it), makes it readable and syncs it to disk, and only when *every*
model of the call is complete renames them into place, one after the other. When a
write or a rename fails, the versions already renamed in are taken out again (and the
versions they replaced put back), so the generator and classifier of one export
appear together or not at all. What remains is the instant between two renames: a
process killed exactly there leaves the first model's version only, complete.

`overwrite=True` renames an old version away just before renaming the new one in; a
server polling in that instant may briefly see the version missing.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping

from improved_gan_tf.errors import UserInputError

__all__ = ["ExportExistsError", "check_model_name", "check_version_dir", "next_version",
           "write_versions"]

VERSION_PATTERN = re.compile(r"^[0-9]+$")


class ExportExistsError(UserInputError, FileExistsError):
    """A version directory exists already and `overwrite` was not asked for."""


class ExportNameError(UserInputError, ValueError):
    """A model name or version that would not be a TF Serving version directory."""


def check_model_name(name) -> str:
    """`name` if it is one directory name under the export base.

    Raises:
        ExportNameError: empty, `.` or `..`, hidden (TF Serving ignores it), or holding
            a path separator, which would write outside `EXPORT_BASE/<model_name>`.
    """
    text = str(name)
    separators = [s for s in (os.sep, os.altsep, "/", "\\") if s]
    if (not text or text in (".", "..") or text.startswith(".")
            or any(s in text for s in separators)):
        raise ExportNameError(
            f"A model name must be one directory name (no path separator, not '.' or '..', "
            f"no leading dot). Received: {text!r}"
        )
    return text


def check_version_dir(export_dir) -> None:
    """Raises `ExportNameError` unless `export_dir` ends in a positive integer."""
    name = pathlib.Path(export_dir).name
    if not VERSION_PATTERN.match(name) or int(name) < 1:
        raise ExportNameError(
            f"export_dir must end in a positive integer version directory "
            f"(EXPORT_BASE/<model_name>/<version>, what TF Serving polls). Received: {export_dir}"
        )


def next_version(export_base, model_names: Iterable[str]) -> int:
    """1 + the largest version found under `EXPORT_BASE/<name>/` for any of `model_names`
    (1 when there is none), so the models of one export share a version."""
    latest = 0
    for name in model_names:
        directory = pathlib.Path(export_base) / name
        if directory.is_dir():
            for entry in directory.iterdir():
                if entry.is_dir() and VERSION_PATTERN.match(entry.name):
                    latest = max(latest, int(entry.name))
    return latest + 1


def _make_readable(root):
    """`mkdtemp` creates 0700 directories; a server running as another user must read them."""
    for directory, _, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)


def _fsync_tree(root):
    for directory, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(directory, name), "rb") as handle:
                os.fsync(handle.fileno())
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _hidden_sibling(target: pathlib.Path, kind: str) -> pathlib.Path:
    return pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.{kind}-", dir=target.parent))


def write_versions(
    writers: Mapping[os.PathLike | str, Callable[[str], object]], overwrite: bool = False
) -> list[pathlib.Path]:
    """Runs `write(directory)` for each version directory, then renames all into place.

    Args:
        writers: `{EXPORT_BASE/<model_name>/<version>: write}`; `write` saves a
            SavedModel into the (empty, hidden) directory it is given.
        overwrite: replace existing version directories.

    Returns:
        The absolute paths of the version directories, in the order of `writers`.

    Raises:
        ExportNameError: a path that does not end in a positive integer version.
        ExportExistsError: a version directory exists and `overwrite` is False
            (checked for every model before anything is written).
    """
    targets = [pathlib.Path(path).absolute() for path in writers]
    for target in targets:
        check_version_dir(target)
    existing = [str(target) for target in targets if target.exists()]
    if existing and not overwrite:
        raise ExportExistsError(
            f"{', '.join(existing)} already exist(s); choose another version or pass "
            "overwrite=True (--overwrite)."
        )
    staged: dict[pathlib.Path, pathlib.Path] = {}
    renamed_in: list[pathlib.Path] = []
    replaced: dict[pathlib.Path, pathlib.Path] = {}
    try:
        for target, write in zip(targets, writers.values()):
            target.parent.mkdir(parents=True, exist_ok=True)
            staged[target] = _hidden_sibling(target, "tmp")
            write(str(staged[target]))
            _make_readable(staged[target])
            _fsync_tree(staged[target])
        for target in targets:
            if target.exists():
                if not overwrite:  # another export created it meanwhile
                    raise ExportExistsError(f"{target} appeared while exporting; not replacing it.")
                old = _hidden_sibling(target, "old")
                os.rmdir(old)
                os.rename(target, old)
                replaced[target] = old
            os.rename(staged[target], target)
            del staged[target]
            renamed_in.append(target)
    except BaseException:
        for directory in staged.values():
            shutil.rmtree(directory, ignore_errors=True)
        for target in reversed(renamed_in):
            shutil.rmtree(target, ignore_errors=True)
        for target, old in replaced.items():
            if old.exists() and not target.exists():
                os.rename(old, target)
        raise
    for old in replaced.values():
        shutil.rmtree(old, ignore_errors=True)
    return targets
