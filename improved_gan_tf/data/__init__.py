"""Datasets and `tf.data` input pipelines for the experiments of Salimans et al. (2016).

Two sources give the same arrays and the same element specs (uint8 images `[H, W, C]`,
int64 labels): a local directory of a dataset's standard distribution files, or
`tensorflow_datasets` when no directory is given. The modules:

- `files`: the IDX / CIFAR-10 binary / SVHN `.mat` / `.npz` readers (the package's only
  IDX reader), local directories, and `load_arrays` (either source); the SVHN readers
  live in `svhn_files`, with `mat5` checking a `.mat` file before scipy parses it;
- `tfds`: TFDS loading, failing fast and clearly without network;
- `preprocessing`: each preprocess's forward map, exact inverse and output range;
- `labeled`: the labeled subset of a semi-supervised run (select, save, load);
- `pipelines`: the semi-supervised, unsupervised and evaluation `tf.data` streams;
- `errors`: `DataFileError`, `DatasetNotFoundError`, `DataSubsetWarning`.

The dataset facts (`DATASETS`, `DatasetSpec`, `canonical_name`) live in the TF-free
`improved_gan_tf.registry` and are re-exported here.
"""

from improved_gan_tf.data.errors import DataFileError
from improved_gan_tf.data.errors import DatasetNotFoundError
from improved_gan_tf.data.errors import DataSubsetWarning
from improved_gan_tf.data.files import load_arrays
from improved_gan_tf.data.files import load_local_arrays
from improved_gan_tf.data.files import read_cifar10_bin
from improved_gan_tf.data.files import read_idx
from improved_gan_tf.data.files import read_svhn_mat
from improved_gan_tf.data.files import read_svhn_npz
from improved_gan_tf.data.labeled import LABELED_INDICES_FILENAME
from improved_gan_tf.data.labeled import load_labeled_indices
from improved_gan_tf.data.labeled import save_labeled_indices
from improved_gan_tf.data.labeled import select_labeled_subset
from improved_gan_tf.data.pipelines import eval_dataset
from improved_gan_tf.data.pipelines import load_dataset
from improved_gan_tf.data.pipelines import semi_supervised_dataset
from improved_gan_tf.data.pipelines import unsupervised_dataset
from improved_gan_tf.data.preprocessing import DEFAULT_PREPROCESS
from improved_gan_tf.data.preprocessing import PREPROCESSING
from improved_gan_tf.data.preprocessing import Preprocessing
from improved_gan_tf.data.preprocessing import get_preprocess
from improved_gan_tf.data.preprocessing import get_preprocessing
from improved_gan_tf.data.preprocessing import output_range
from improved_gan_tf.data.preprocessing import preprocess_array
from improved_gan_tf.data.preprocessing import to_pixels
from improved_gan_tf.data.preprocessing import to_pixels_tf
from improved_gan_tf.data.preprocessing import to_unit_interval_tf
from improved_gan_tf.data.tfds import DATA_DIR_FLAG
from improved_gan_tf.registry import DATASETS
from improved_gan_tf.registry import DatasetSpec
from improved_gan_tf.registry import canonical_name

__all__ = [
    "DATASETS",
    "DATA_DIR_FLAG",
    "DEFAULT_PREPROCESS",
    "DataFileError",
    "DataSubsetWarning",
    "DatasetNotFoundError",
    "DatasetSpec",
    "LABELED_INDICES_FILENAME",
    "PREPROCESSING",
    "Preprocessing",
    "canonical_name",
    "eval_dataset",
    "get_preprocess",
    "get_preprocessing",
    "load_arrays",
    "load_dataset",
    "load_labeled_indices",
    "load_local_arrays",
    "output_range",
    "preprocess_array",
    "read_cifar10_bin",
    "read_idx",
    "read_svhn_mat",
    "read_svhn_npz",
    "save_labeled_indices",
    "select_labeled_subset",
    "semi_supervised_dataset",
    "to_pixels",
    "to_pixels_tf",
    "to_unit_interval_tf",
    "unsupervised_dataset",
]
