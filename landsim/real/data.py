"""Datasets for the real-network experiments: train/test tensors from several sources.

Sources (all offline)
    ``"digits"`` (default) scikit-learn's bundled 8 x 8 handwritten digits, 10 classes;
    ``"teacher"`` Gaussian inputs labelled by a random MLP teacher;
    ``"mixture"`` a Gaussian mixture, one component per class;
    ``"idx"`` MNIST-format IDX files given by the user (optionally gzip-compressed);
    ``"npz"`` a user ``.npz`` file with arrays ``x`` and ``y`` (optionally ``x_test``,
    ``y_test``).

Every loader returns a :class:`Dataset`. Unless the source brings its own test split, the
train/test split is a permutation drawn from ``seed``; features are standardised with the
training split's mean and standard deviation when ``standardise`` is true. The same seed
gives the same tensors on every machine. Each source is also a dataset plug-in of
:mod:`landsim.real.plugins` (``DIGITS_PLUGIN``, ...; ``build(config, seed)``).
"""

from __future__ import annotations

import gzip
import math
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from .._checks import as_generator, choice, int_at_least, real_in
from ..seeding import check_seed
from ._dataset import Dataset, as_dataset, from_arrays, split_indices, standardise_split
from .data_root import data_path

__all__ = [
    "SOURCES", "IDX_DTYPES", "Dataset", "split_indices", "standardise_split",
    "digits", "teacher", "mixture", "read_idx", "write_idx", "idx", "npz", "make_dataset",
    "DIGITS_PLUGIN", "TEACHER_PLUGIN", "MIXTURE_PLUGIN", "IDX_PLUGIN", "NPZ_PLUGIN",
]

#: Dataset sources understood by :func:`make_dataset`.
SOURCES = ("digits", "teacher", "mixture", "idx", "npz")

#: IDX type codes (third byte of the magic number) and their big-endian dtypes.
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


# ------------------------------------------------------------------------ built-in sources
def digits(test_fraction: float = 0.25, seed: int = 0, *, image: bool = False,
           standardise: bool = True) -> Dataset:
    """scikit-learn's bundled handwritten digits (1797 samples of 8 x 8 pixels, 10 classes).

    Parameters
    ----------
    test_fraction : float
        Fraction in the test split, in ]0, 1[.
    seed : int
        Seeds the split.
    image : bool
        Inputs of shape (1, 8, 8) for a CNN instead of (64,).
    standardise : bool
        Standardise each pixel with the training split's statistics (default); otherwise
        pixel values are scaled to [0, 1].

    Returns
    -------
    Dataset
        Inputs (N, 64) or (N, 1, 8, 8).
    """
    from sklearn.datasets import load_digits

    seed = check_seed(seed)
    bunch = load_digits()
    x = bunch.data.astype(np.float64)
    if not standardise:
        x = x / 16.0
    if image:
        x = x.reshape(-1, 1, 8, 8)
    return from_arrays(x, bunch.target.astype(np.int64), test_fraction, seed,
                        f"digits(image={image}, seed={seed})", standardise, 10)


def teacher(n_train: int = 2000, n_test: int = 1000, dim: int = 20, n_classes: int = 4,
            hidden: int = 32, seed: int = 0) -> Dataset:
    """Gaussian inputs labelled by a random one-hidden-layer tanh teacher network.

    ``y = argmax(W2 tanh(W1 x / sqrt(dim) + b1))`` with standard normal W1, b1, W2 and
    x ~ N(0, I_dim); the task is learnable exactly by a wide enough student.

    Parameters
    ----------
    n_train, n_test : int
        Split sizes, >= 1.
    dim : int
        Input dimension, >= 1.
    n_classes : int
        >= 2.
    hidden : int
        Teacher width, >= 1.
    seed : int
        Seeds the inputs and the teacher.

    Returns
    -------
    Dataset
        Inputs (N, dim); not standardised (already zero-mean, unit variance).
    """
    n_train, n_test = int_at_least("n_train", n_train, 1), int_at_least("n_test", n_test, 1)
    dim, hidden = int_at_least("dim", dim, 1), int_at_least("hidden", hidden, 1)
    n_classes = int_at_least("n_classes", n_classes, 2)
    rng = as_generator(check_seed(seed))
    w1 = rng.standard_normal((dim, hidden))
    b1 = rng.standard_normal(hidden)
    w2 = rng.standard_normal((hidden, n_classes))
    x = rng.standard_normal((n_train + n_test, dim))
    y = np.argmax(np.tanh(x @ w1 / math.sqrt(dim) + b1) @ w2, axis=1)
    return as_dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes,
                       f"teacher(dim={dim}, classes={n_classes}, hidden={hidden}, "
                       f"seed={seed})", False)


def mixture(n_train: int = 2000, n_test: int = 1000, dim: int = 20, n_classes: int = 4,
            separation: float = 2.0, seed: int = 0) -> Dataset:
    """A Gaussian mixture: class k is N(mu_k, I_dim), means at distance ~separation.

    The means are ``mu_k = separation * u_k / sqrt(2)`` with u_k random orthonormal
    vectors when n_classes <= dim (so ``|mu_j - mu_k| = separation`` exactly) and random
    unit vectors otherwise. Labels are uniform over the classes.

    Parameters
    ----------
    n_train, n_test : int
        Split sizes, >= 1.
    dim : int
        Input dimension, >= 1.
    n_classes : int
        >= 2.
    separation : float
        Distance between class means, >= 0.
    seed : int

    Returns
    -------
    Dataset
        Inputs (N, dim); not standardised.
    """
    n_train, n_test = int_at_least("n_train", n_train, 1), int_at_least("n_test", n_test, 1)
    dim = int_at_least("dim", dim, 1)
    n_classes = int_at_least("n_classes", n_classes, 2)
    separation = real_in("separation", separation, 0.0)
    rng = as_generator(check_seed(seed))
    g = rng.standard_normal((max(dim, n_classes), n_classes))
    if n_classes <= dim:
        u = np.linalg.qr(g[:dim])[0].T  # (K, dim) orthonormal rows
    else:
        u = (g[:dim] / np.linalg.norm(g[:dim], axis=0)).T
    mu = separation * u / math.sqrt(2.0)
    n = n_train + n_test
    y = rng.integers(0, n_classes, n)
    x = mu[y] + rng.standard_normal((n, dim))
    return as_dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], n_classes,
                       f"mixture(dim={dim}, classes={n_classes}, separation={separation:g}, "
                       f"seed={seed})", False)


# ------------------------------------------------------------------------ IDX files
def _open(path: str | os.PathLike):
    """A binary file object, decompressing gzip (detected by its magic bytes)."""
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type code (see :data:`IDX_DTYPES`), the number of
    dimensions, then each dimension as a big-endian uint32; the data follow in C order,
    big-endian.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ndarray
        Native byte order, the dtype of the type code, shape given by the header.

    Raises
    ------
    ValueError
        Wrong magic number, unknown type code, or a data size that does not match the
        header.
    """
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{os.fspath(path)!r} is not an IDX file: the magic number must "
                         f"start with two zero bytes, got {raw[:4]!r}")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{os.fspath(path)!r}: IDX type code must be one of "
                         f"{[hex(c) for c in IDX_DTYPES]}, got {hex(code)}")
    if ndim < 1:
        raise ValueError(f"{os.fspath(path)!r}: IDX files must have >= 1 dimension, got 0")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise ValueError(f"{os.fspath(path)!r}: truncated IDX header ({len(raw)} bytes, "
                         f"need {head} for {ndim} dimensions)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(dims) * dtype.itemsize
    if len(raw) - head != expected:
        raise ValueError(f"{os.fspath(path)!r}: IDX header gives shape {dims} of {dtype} "
                         f"({expected} data bytes), but the file has {len(raw) - head}")
    arr = np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: Any, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress``, or if None when the
    path ends with ``.gz``). Its dtype must be one of :data:`IDX_DTYPES` (any byte order).
    """
    arr = np.asarray(array)
    codes = {dt.newbyteorder("="): c for c, dt in IDX_DTYPES.items()}
    native = arr.dtype.newbyteorder("=")
    if native not in codes or arr.ndim < 1 or arr.ndim > 255:
        raise ValueError(f"array must have 1..255 dimensions and a dtype among "
                         f"{sorted(str(d) for d in codes)}, got {arr.dtype} with ndim {arr.ndim}")
    big = arr.astype(native.newbyteorder(">"))
    data = (bytes([0, 0, codes[native], arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
            + big.tobytes(order="C"))
    if compress is None:
        compress = os.fspath(path).endswith(".gz")
    with (gzip.open(path, "wb") if compress else open(path, "wb")) as f:
        f.write(data)


def _images(x: np.ndarray, name: str) -> np.ndarray:
    """(N, H, W) or (N, C, H, W) images, or (N, F) vectors, as float64 in [0, 1] for bytes."""
    if x.ndim not in (2, 3, 4):
        raise ValueError(f"{name} must have 2, 3 or 4 dimensions (N, F), (N, H, W) or "
                         f"(N, C, H, W), got shape {x.shape}")
    scale = 255.0 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float64) / scale
    return x[:, None] if x.ndim == 3 else x


def _labels(y: np.ndarray, n: int, name: str, xname: str) -> np.ndarray:
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"{name} must be a 1-D integer array, got shape {y.shape} of {y.dtype}")
    if y.shape[0] != n:
        raise ValueError(f"{xname} has {n} samples but {name} has {y.shape[0]} labels")
    if y.size and y.min() < 0:
        raise ValueError(f"{name} must be non-negative class labels, got {int(y.min())}")
    return y.astype(np.int64)


def idx(train_images: str | os.PathLike, train_labels: str | os.PathLike,
        test_images: str | os.PathLike | None = None,
        test_labels: str | os.PathLike | None = None, *, test_fraction: float = 0.2,
        seed: int = 0, limit: int | None = None, standardise: bool = False) -> Dataset:
    """A dataset from MNIST-format IDX files (e.g. ``train-images-idx3-ubyte.gz``).

    Parameters
    ----------
    train_images, train_labels : path-like
        Images (N, H, W) (or (N, C, H, W), or vectors (N, F)) and labels (N,).
    test_images, test_labels : path-like, optional
        The test split; when omitted, ``test_fraction`` of the training files is held out
        by a permutation drawn from ``seed``.
    test_fraction : float
        In ]0, 1[, used only without test files.
    seed : int
    limit : int, optional
        Keep only the first ``limit`` samples of each file (>= 2).
    standardise : bool
        Standardise each pixel with the training statistics; otherwise uint8 pixels are
        scaled to [0, 1].

    Returns
    -------
    Dataset
        Images as (N, C, H, W) float32 (a channel axis is added to (N, H, W) files).
    """
    if (test_images is None) != (test_labels is None):
        raise ValueError("give both test_images and test_labels, or neither")
    seed = check_seed(seed)
    if limit is not None:
        limit = int_at_least("limit", limit, 2)

    def load(img_path, lab_path, what):
        x = read_idx(img_path)[:limit]
        y = read_idx(lab_path)[:limit]
        x = _images(x, f"{what} images {os.fspath(img_path)!r}")
        return x, _labels(y, x.shape[0], f"{what} labels {os.fspath(lab_path)!r}",
                          f"{what} images {os.fspath(img_path)!r}")

    x, y = load(train_images, train_labels, "train")
    name = f"idx({os.path.basename(os.fspath(train_images))}, seed={seed})"
    if test_images is None:
        return from_arrays(x, y, test_fraction, seed, name, standardise)
    xt, yt = load(test_images, test_labels, "test")
    if xt.shape[1:] != x.shape[1:]:
        raise ValueError(f"test images have shape {xt.shape[1:]} per sample, train images "
                         f"{x.shape[1:]}")
    k = max(int(y.max()), int(yt.max())) + 1
    return as_dataset(x, y, xt, yt, max(k, 2), name, standardise)


def npz(path: str | os.PathLike, *, test_fraction: float = 0.2, seed: int = 0,
        standardise: bool = True) -> Dataset:
    """A dataset from a ``.npz`` file with arrays ``x`` (N, ...) and ``y`` (N,).

    Loaded with ``allow_pickle=False``. If the file also holds ``x_test`` and ``y_test``
    they are the test split; otherwise ``test_fraction`` of the samples is held out by a
    permutation drawn from ``seed``. uint8 inputs are scaled to [0, 1] first.

    Returns
    -------
    Dataset
        Inputs (N, F) or (N, C, H, W) ((N, H, W) gets a channel axis).
    """
    seed = check_seed(seed)
    with np.load(path, allow_pickle=False) as f:
        keys = set(f.files)
        for key in ("x", "y"):
            if key not in keys:
                raise ValueError(f"{os.fspath(path)!r} must contain arrays 'x' and 'y', "
                                 f"found {sorted(keys)}")
        if ("x_test" in keys) != ("y_test" in keys):
            raise ValueError(f"{os.fspath(path)!r} must contain both 'x_test' and 'y_test' "
                             "or neither")
        arrays = {k: f[k] for k in ("x", "y", "x_test", "y_test") if k in keys}
    for key in ("x", "x_test"):
        if key in arrays and arrays[key].dtype.kind not in "fiub":
            raise ValueError(f"{key} must be a real array, got dtype {arrays[key].dtype}")
    x = _images(arrays["x"], "x")
    y = _labels(arrays["y"], x.shape[0], "y", "x")
    name = f"npz({os.path.basename(os.fspath(path))}, seed={seed})"
    if "x_test" not in arrays:
        return from_arrays(x, y, test_fraction, seed, name, standardise)
    xt = _images(arrays["x_test"], "x_test")
    yt = _labels(arrays["y_test"], xt.shape[0], "y_test", "x_test")
    if xt.shape[1:] != x.shape[1:]:
        raise ValueError(f"x_test has shape {xt.shape[1:]} per sample, x has {x.shape[1:]}")
    k = max(int(y.max()), int(yt.max())) + 1
    return as_dataset(x, y, xt, yt, max(k, 2), name, standardise)


def make_dataset(source: str = "digits", seed: int = 0, **kwargs: Any) -> Dataset:
    """A dataset by source name (see :data:`SOURCES`); ``kwargs`` go to its loader.

    ``make_dataset("digits", seed=1)`` calls :func:`digits` (seed=1);
    ``make_dataset("idx", train_images=..., train_labels=...)`` calls :func:`idx`.
    """
    source = choice("source", source, SOURCES)
    loader = {"digits": digits, "teacher": teacher, "mixture": mixture, "idx": idx,
              "npz": npz}[source]
    return loader(seed=seed, **kwargs)


# ------------------------------------------------------------------------ plug-ins
def _check(config: Any) -> None:
    """Validate a plug-in config by the loader's own checks (without loading anything)."""
    for name, value in asdict(config).items():
        if name in ("n_train", "n_test", "dim", "hidden"):
            int_at_least(name, value, 1)
        elif name == "n_classes":
            int_at_least(name, value, 2)
        elif name == "test_fraction":
            real_in(name, value, 0.0, 1.0, low_open=True)
        elif name == "separation":
            real_in(name, value, 0.0)
        elif name == "limit":
            int_at_least(name, value, 0)
            if value == 1:
                raise ValueError("limit must be 0 (all samples) or an integer >= 2, got 1")
        elif name in ("path", "train_images", "train_labels") and not value:
            raise ValueError(f"{name} must be given (a file path), got {value!r}")


@dataclass(frozen=True)
class DigitsConfig:
    test_fraction: float = 0.25  # fraction in the test split, in ]0, 1[
    image: bool = False  # inputs (1, 8, 8) for a CNN instead of (64,)
    standardise: bool = True  # standardise pixels with the training statistics

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class TeacherConfig:
    n_train: int = 2000  # training samples, >= 1
    n_test: int = 1000  # test samples, >= 1
    dim: int = 20  # input dimension, >= 1
    n_classes: int = 4  # classes, >= 2
    hidden: int = 32  # teacher width, >= 1

    def __post_init__(self) -> None:
        _check(self)


@dataclass(frozen=True)
class MixtureConfig:
    n_train: int = 2000  # training samples, >= 1
    n_test: int = 1000  # test samples, >= 1
    dim: int = 20  # input dimension, >= 1
    n_classes: int = 4  # classes, >= 2
    separation: float = 2.0  # distance between class means, >= 0

    def __post_init__(self) -> None:
        _check(self)


def _path(doc: str) -> dict:
    """Field metadata of a setting that names a file: opened through
    :func:`landsim.real.data_root.data_path`, so confined to the service's data root."""
    return {"path": True, "doc": doc}


@dataclass(frozen=True)
class IdxConfig:
    train_images: str = field(default="", metadata=_path(
        "IDX file of the training images (required)"))
    train_labels: str = field(default="", metadata=_path(
        "IDX file of the training labels (required)"))
    test_images: str = field(default="", metadata=_path(
        'IDX file of the test images ("" = hold out test_fraction)'))
    test_labels: str = field(default="", metadata=_path(
        "IDX file of the test labels (with test_images)"))
    test_fraction: float = 0.2  # held out without test files, in ]0, 1[
    limit: int = 0  # keep the first limit samples of each file (0 = all, else >= 2)
    standardise: bool = False  # standardise pixels (else uint8 scaled to [0, 1])

    def __post_init__(self) -> None:
        _check(self)
        if bool(self.test_images) != bool(self.test_labels):
            raise ValueError("give both test_images and test_labels, or neither")


@dataclass(frozen=True)
class NpzConfig:
    path: str = field(default="", metadata=_path(
        ".npz file with arrays x, y (optionally x_test, y_test) (required)"))
    test_fraction: float = 0.2  # held out without x_test/y_test, in ]0, 1[
    standardise: bool = True  # standardise features with the training statistics

    def __post_init__(self) -> None:
        _check(self)


def _build_source(name: str):
    def build(config: Any, seed: int) -> Dataset:
        kwargs = asdict(config)
        for f in fields(config):  # files: under the data root when one is set
            if f.metadata.get("path") and kwargs[f.name]:
                kwargs[f.name] = str(data_path(kwargs[f.name]))
        if name == "idx":
            kwargs["test_images"] = kwargs["test_images"] or None
            kwargs["test_labels"] = kwargs["test_labels"] or None
            kwargs["limit"] = kwargs["limit"] or None
        return make_dataset(name, seed=seed, **kwargs)

    return build


def _plugin(name: str, config: type, summary: str):
    from .plugins import Plugin

    return Plugin(name, config, _build_source(name), summary)


DIGITS_PLUGIN = _plugin("digits", DigitsConfig, "scikit-learn's bundled 8 x 8 handwritten "
                        "digits, 10 classes (offline)")
TEACHER_PLUGIN = _plugin("teacher", TeacherConfig, "Gaussian inputs labelled by a random "
                         "one-hidden-layer tanh teacher")
MIXTURE_PLUGIN = _plugin("mixture", MixtureConfig, "a Gaussian mixture, one component per "
                         "class")
IDX_PLUGIN = _plugin("idx", IdxConfig, "MNIST-format IDX files (gzip optional) on the machine "
                     "that runs the experiment")
NPZ_PLUGIN = _plugin("npz", NpzConfig, "a .npz file with arrays x, y (optionally x_test, "
                     "y_test) on the machine that runs the experiment")
