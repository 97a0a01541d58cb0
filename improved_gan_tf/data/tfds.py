"""Whole splits from `tensorflow_datasets` (TFDS), failing fast and clearly offline.

`load_tfds_arrays` loads a split TFDS has prepared, and otherwise downloads and
prepares it, but first probes the download host with a hard time limit (`can_reach`),
so a machine without network fails in seconds with a message that names the dataset,
the standard files a local directory would need and the flag that points at one,
instead of hanging in a retry loop. `tensorflow_datasets` is imported only when a split
is actually loaded from TFDS.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import numpy as np

from improved_gan_tf import registry
from improved_gan_tf.data.errors import DatasetNotFoundError

__all__ = ["DATA_DIR_FLAG", "can_reach", "load_tfds_arrays"]

#: The flag that points the command line at a local directory of standard files.
DATA_DIR_FLAG = "--config.data.dir"

_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")


def can_reach(host: str, port: int = 443, timeout: float = 5.0) -> tuple[bool, str]:
    """Tries a TCP connection with a hard time limit (DNS included).

    `socket.create_connection`'s own timeout does not bound the name lookup, so the
    attempt runs in a daemon thread that is abandoned after `timeout` seconds.

    Args:
      host: host name or address.
      port: TCP port.
      timeout: seconds allowed for the lookup and the connection together.

    Returns:
      `(reachable, reason)`: whether a connection was made, and why not if not.

    Examples:

    >>> can_reach("127.0.0.1", 9, timeout=1.0)[0]  # doctest: +SKIP
    False
    """
    result: list[Any] = []

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append((True, "connected"))
        except OSError as e:
            result.append((False, f"{type(e).__name__}: {e}"))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return False, f"no answer within {timeout:g} s"
    return result[0]


def _unavailable_message(
    spec: registry.DatasetSpec, split: str, tfds_data_dir: str, why: str
) -> str:
    return (
        f"Dataset {spec.name!r} ({split} split) is not prepared in the TFDS data directory "
        f"{tfds_data_dir} and cannot be downloaded: {why}. Pass a local directory holding "
        f"the standard files ({', '.join(spec.local_files[split])}) with "
        f"{DATA_DIR_FLAG}=DIR (data_dir=DIR in Python), or prepare the TFDS dataset on a "
        "machine with network access and copy it into the TFDS data directory."
    )


def load_tfds_arrays(
    name: str,
    split: str,
    tfds_data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    network_timeout: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads a whole TFDS split as numpy arrays, preparing the dataset if allowed.

    Args:
      name: a dataset name `registry.canonical_name` accepts.
      split: a TFDS split name (`"train"`, `"test"`, ...).
      tfds_data_dir: TFDS data directory (TFDS's default when `None`).
      download: whether a missing dataset may be downloaded and prepared.
      network_timeout: seconds allowed to reach the download host (skipped when a
        proxy is configured, since the host is then reached through the proxy).

    Returns:
      `(images, labels)`: uint8 `[N, H, W, C]` and int64 `[N]`, in TFDS's order.

    Raises:
      DatasetNotFoundError: the dataset is not prepared and downloading is disabled,
        the host cannot be reached, or the download fails (the message says which and
        how to pass a local directory instead).
    """
    import tensorflow_datasets as tfds  # Imported lazily: the local path doesn't need it.

    spec = registry.DATASETS[registry.canonical_name(name)]
    builder = tfds.builder(
        spec.name, data_dir=None if tfds_data_dir is None else os.fspath(tfds_data_dir)
    )
    where = os.fspath(tfds_data_dir) if tfds_data_dir is not None else builder.data_dir
    if not builder.is_prepared():
        if not download:
            raise DatasetNotFoundError(
                _unavailable_message(spec, split, where, "downloading is disabled")
            )
        if not any(os.environ.get(v) for v in _PROXY_VARIABLES):
            host, port = spec.download_address
            ok, reason = can_reach(host, port, network_timeout)
            if not ok:
                raise DatasetNotFoundError(
                    _unavailable_message(
                        spec, split, where, f"cannot reach {host}:{port} ({reason})"
                    )
                )
        try:
            builder.download_and_prepare()
        except Exception as e:  # Any download/prepare failure becomes one clear error.
            raise DatasetNotFoundError(
                _unavailable_message(
                    spec, split, where, f"download failed ({type(e).__name__}: {e})"
                )
            ) from e
    ds = builder.as_dataset(split=split, as_supervised=True, batch_size=-1)
    images, labels = tfds.as_numpy(ds)
    return np.asarray(images, dtype=np.uint8), np.asarray(labels, dtype=np.int64)
