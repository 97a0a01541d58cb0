"""The labeled subset of a semi-supervised run: choose it, record it, read it back.

The subset follows the authors' scripts (openai/improved-gan,
`train_mnist_feature_matching.py`): the training set is permuted with
`numpy.random.RandomState(seed_data)` and the first `n / K` examples of each class of the
permuted set are kept (`select_labeled_subset`). The chosen indices are recorded in the
run directory (`save_labeled_indices`) so that a run can be audited and repeated.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any

import numpy as np

from improved_gan_tf.data.errors import DataFileError
from improved_gan_tf.fileio import atomic_write_text

__all__ = [
    "LABELED_INDICES_FILENAME",
    "load_labeled_indices",
    "save_labeled_indices",
    "select_labeled_subset",
]

#: File name of the labeled-subset record inside a run directory.
LABELED_INDICES_FILENAME = "labeled_indices.json"


def select_labeled_subset(
    labels: np.ndarray, num_labeled: int, num_classes: int = 10, seed: int = 1
) -> np.ndarray:
    """Chooses a class-balanced labeled subset as the authors' scripts do.

    `inds = RandomState(seed).permutation(N)`; then for each class `j` in order, the first
    `num_labeled / num_classes` examples of the permuted set with label `j`.

    Args:
      labels: int labels `[N]` of the whole training set.
      num_labeled: total number of labeled examples n (divisible by `num_classes`).
      num_classes: number of classes K.
      seed: the authors' `seed_data`.

    Returns:
      int64 indices `[num_labeled]` into the original arrays, grouped by class (class 0
      first), each group in permuted order.

    Raises:
      ValueError: if `num_labeled` is not a positive multiple of `num_classes`, `labels`
        is not 1-d, or a class has fewer than `num_labeled / num_classes` examples.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-d, got shape {labels.shape}.")
    if num_labeled <= 0 or num_labeled % num_classes:
        raise ValueError(
            f"num_labeled={num_labeled} must be a positive multiple of "
            f"num_classes={num_classes} (the subset holds num_labeled/num_classes "
            "examples of each class)."
        )
    per_class = num_labeled // num_classes
    inds = np.random.RandomState(seed).permutation(labels.shape[0])
    permuted = labels[inds]
    chosen = []
    for j in range(num_classes):
        members = inds[permuted == j]
        if members.shape[0] < per_class:
            raise ValueError(
                f"class {j} has only {members.shape[0]} examples, fewer than the "
                f"{per_class} per class that num_labeled={num_labeled} needs."
            )
        chosen.append(members[:per_class])
    return np.concatenate(chosen).astype(np.int64)


def save_labeled_indices(
    path: str | os.PathLike,
    indices: np.ndarray,
    *,
    seed: int,
    labels: np.ndarray | None = None,
    num_classes: int = 10,
    dataset: str | None = None,
    extra: dict[str, Any] | None = None,
) -> pathlib.Path:
    """Writes the labeled subset's indices to a JSON file, atomically.

    Args:
      path: a run directory (the file is `labeled_indices.json` in it) or a file path.
      indices: indices into the training set.
      seed: the seed that chose them.
      labels: the training set's labels; when given, the per-class counts and the
        labels of the chosen examples are recorded too.
      num_classes: number of classes K.
      dataset: dataset name to record.
      extra: more JSON-serializable entries to record (e.g. the data source).

    Returns:
      The path written.

    Raises:
      ValueError: if `extra` uses a reserved key.
    """
    path = pathlib.Path(path)
    if path.is_dir() or not path.suffix:
        path = path / LABELED_INDICES_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    record: dict[str, Any] = {
        "dataset": dataset,
        "seed": int(seed),
        "num_labeled": int(indices.shape[0]),
        "num_classes": int(num_classes),
    }
    if labels is not None:
        chosen = np.asarray(labels)[indices]
        record["per_class_counts"] = np.bincount(chosen, minlength=num_classes).tolist()
        record["labels"] = chosen.astype(int).tolist()
    for key, value in (extra or {}).items():
        if key in record or key == "indices":
            raise ValueError(f"extra key {key!r} is reserved.")
        record[key] = value
    record["indices"] = indices.tolist()
    return atomic_write_text(path, json.dumps(record, indent=1) + "\n")


def load_labeled_indices(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """Reads a file written by `save_labeled_indices`.

    Args:
      path: the file, or the run directory holding `labeled_indices.json`.

    Returns:
      `(indices, record)`: int64 indices and the whole JSON record (seed, counts, ...).

    Raises:
      FileNotFoundError: no such file.
      DataFileError: the file is not valid JSON or lacks the `indices` key.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / LABELED_INDICES_FILENAME
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataFileError(f"{path}: not valid JSON ({e}).") from e
    if not isinstance(record, dict) or "indices" not in record:
        raise DataFileError(f"{path}: no 'indices' key.")
    indices = np.asarray(record["indices"], dtype=np.int64)
    if "num_labeled" in record and record["num_labeled"] != indices.shape[0]:
        raise DataFileError(
            f"{path}: 'num_labeled' is {record['num_labeled']} but 'indices' holds "
            f"{indices.shape[0]} entries."
        )
    return indices, record

