"""Setup shared by the real-network experiments: data, networks, k independent training runs.

Every real experiment trains one or more small classifiers on one dataset and then measures
something about the trained weights. The fields that say *which* networks are trained live
in :class:`NetworkConfig`, a frozen dataclass that each experiment's ``Config`` extends
(redeclaring a field changes its default)::

    @dataclass(frozen=True)
    class Config(NetworkConfig):
        epochs: int = 30          # a different default for this experiment
        n_networks: int = 3       # an experiment's own field

        def __post_init__(self) -> None:
            super().__post_init__()
            int_at_least("n_networks", self.n_networks, 1)

and the helpers below turn such a config into tensors:

:func:`load_dataset`
    The dataset of ``config.dataset`` with its split drawn from the run's data stream
    (optionally only the first ``config.n_train`` training samples).
:func:`train_config`, :func:`model_spec`
    The :class:`~landsim.real.train.TrainConfig` and the model
    (:class:`~landsim.real.plugins.PluginModel`) of the config.
:func:`network_seed`
    Torch seed of network ``i`` of a run: drawn from child ``i`` of the run's network
    stream (:mod:`landsim.seeding`), never an offset of the run seed.
:func:`train_networks`
    ``k`` independently initialised and trained networks (init seed and minibatch seed
    :func:`network_seed`), with a :class:`~landsim.real.flat.FlatModel` that evaluates any
    flat vector of their layout.
:func:`trajectory_series`
    The k training curves as arrays for a result record.

Nothing here sets the number of torch threads: callers (the CLI, the tests) do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from ..._checks import choice, int_at_least, real_in
from ...experiment_kit import Progress, Timer, report
from ...seeding import SeedLike, children, int_seed
from .. import plugins
from ..data import Dataset
from ..flat import FlatModel
from ..train import OPTIMIZERS, TrainConfig, TrainResult, train

__all__ = ["DATASETS", "DEVICES", "NetworkConfig", "run_sequences", "load_dataset",
           "model_spec",
           "train_config", "network_seed", "TrainedNetworks", "train_networks",
           "load_and_train", "trajectory_series"]

#: The offline datasets of :mod:`landsim.real.data` (a config accepts any installed dataset
#: plug-in, :mod:`landsim.real.plugins`).
DATASETS = ("digits", "teacher", "mixture")
#: Devices a real experiment can run on.
DEVICES = ("cpu", "cuda")


@dataclass(frozen=True)
class NetworkConfig:
    """The networks an experiment trains: data, architecture, optimiser, device.

    Attributes
    ----------
    dataset : str
        A dataset plug-in (:mod:`landsim.real.plugins`; ``landsim plugins`` lists them):
        "digits", "teacher", "mixture" (offline), "idx", "npz" (files), or an installed one.
    n_train : int
        Training samples used, >= 0; 0 means all of the split.
    width, depth : int
        MLP hidden units per layer (>= 1) and hidden layers (>= 0) (the ``mlp`` model).
    optimizer : {"sgd", "momentum", "adam"}
    lr : float
        Learning rate, > 0.
    epochs : int
        Passes over the training split, >= 1.
    batch_size : int
        >= 1.
    device : {"cpu", "cuda"}
        Where the networks are trained and evaluated ("cuda" only when available).
    model : str
        A model plug-in: "mlp" (default; sized by width and depth), "cnn", or an installed
        one.
    model_config, dataset_config : tuple of (field, value) pairs, or None
        Settings of the model and dataset plug-ins; None (stored for no settings) means
        the plug-in's defaults. A dict or a JSON list of pairs is accepted and stored as a
        tuple sorted by field. The mlp takes width and depth from the fields above.
    """

    dataset: str = "digits"  # data source
    n_train: int = 0  # training samples (0 = the whole split)
    width: int = 32  # MLP hidden units per layer
    depth: int = 2  # MLP hidden layers
    optimizer: str = "momentum"  # sgd | momentum (0.9) | adam
    lr: float = 0.05  # learning rate
    epochs: int = 20  # training epochs of each network
    batch_size: int = 64  # minibatch size
    device: str = "cpu"  # cpu | cuda
    model: str = "mlp"  # model plug-in (landsim plugins): mlp (width, depth) | cnn | ...
    model_config: tuple | None = None  # (field, value) pairs of the model's settings
    dataset_config: tuple | None = None  # (field, value) pairs of the dataset's settings

    def __post_init__(self) -> None:
        for name in ("model_config", "dataset_config"):
            pairs = plugins.config_pairs(name, getattr(self, name))
            object.__setattr__(self, name, pairs or None)
        _check_plugin("dataset", self.dataset)
        _check_plugin("model", self.model)
        try:
            plugins.make_config(self.dataset, self.dataset_config, "datasets")
        except ValueError as exc:
            raise ValueError(f"dataset_config of {self.dataset!r}: {exc}") from None
        int_at_least("n_train", self.n_train, 0)
        int_at_least("width", self.width, 1)
        int_at_least("depth", self.depth, 0)
        choice("optimizer", self.optimizer, OPTIMIZERS)
        real_in("lr", self.lr, 0.0, low_open=True)
        int_at_least("epochs", self.epochs, 1)
        int_at_least("batch_size", self.batch_size, 1)
        choice("device", self.device, DEVICES)
        try:
            model_spec(self)
        except ValueError as exc:
            raise ValueError(f"model_config of {self.model!r}: {exc}") from None


def _check_plugin(kind: str, name: str) -> None:
    """``name`` is an installed ``kind`` plug-in, or a ValueError lists the installed ones."""
    names = tuple(plugins.installed(kind + "s"))
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"{kind} must be one of the installed {kind} plug-ins {names}, got "
                         f"{name!r} (see `landsim plugins`)")
    plugins.find(kind + "s", name)


def run_sequences(seed: SeedLike) -> tuple:
    """The two streams of a real run: (data split, networks), children 0 and 1 of ``seed``.

    The data split and the networks never share a stream; an experiment that needs more
    streams takes children 2, 3, ... of ``seed`` (:func:`landsim.seeding.children`).
    """
    data, networks = children(seed, 2)
    return data, networks


def load_dataset(config: NetworkConfig, seed: SeedLike) -> Dataset:
    """The dataset of ``config`` with the split drawn from the data stream of ``seed``
    (:func:`run_sequences`; CPU tensors).

    Returns
    -------
    Dataset
        Inputs (N, n_features); N = ``config.n_train`` when it is > 0 (and not larger than
        the split).
    """
    ds = plugins.build_dataset(config.dataset, config.dataset_config,
                               seed=int_seed(run_sequences(seed)[0]))
    return ds.subset(config.n_train or None)


def model_spec(config: NetworkConfig) -> plugins.PluginModel:
    """The model plug-in of ``config`` with its settings (``.build(input_shape, n_classes,
    seed)``); the mlp is sized by ``config.width`` and ``config.depth``."""
    settings = dict(config.model_config or ())
    if config.model == "mlp":
        given = sorted({"width", "depth"} & set(settings))
        if given:
            raise ValueError(f"it must not set {given} of the mlp: use the "
                             f"config's own width and depth fields")
        settings.update(width=config.width, depth=config.depth)
    return plugins.PluginModel(config.model, settings)


def train_config(config: NetworkConfig, **changes) -> TrainConfig:
    """The :class:`TrainConfig` of ``config`` (constant rate), with ``changes`` applied."""
    base = TrainConfig(optimizer=config.optimizer, lr=config.lr, epochs=config.epochs,
                       batch_size=config.batch_size)
    return base.replace(**changes) if changes else base


def network_seed(seed: SeedLike, i: int) -> int:
    """Initialisation and minibatch seed (a torch seed) of network ``i`` (>= 0) of a run:
    an integer drawn from child ``i`` of the run's network stream (:func:`run_sequences`).
    Networks ``i != j`` of one run, and networks of different runs, share no stream."""
    i = int_at_least("i", i, 0)
    return int_seed(children(run_sequences(seed)[1], i + 1)[i])


class TrainedNetworks(NamedTuple):
    """k networks trained independently on one dataset."""

    fm: FlatModel  #: evaluates flat vectors (P,) of the networks' layout, on config.device
    runs: list  #: k TrainResult (flat, init, trajectory, final metrics), CPU tensors
    seeds: list  #: k int network seeds

    @property
    def flats(self):
        """Final weights, Tensor of shape (k, P) (CPU)."""
        import torch

        return torch.stack([r.flat for r in self.runs])

    @property
    def inits(self):
        """Initial weights, Tensor of shape (k, P) (CPU)."""
        import torch

        return torch.stack([r.init for r in self.runs])


def train_networks(config: NetworkConfig, dataset: Dataset, k: int, seed: SeedLike, *,
                   progress: Progress = None, span: tuple[float, float] = (0.0, 1.0),
                   first: int = 0) -> TrainedNetworks:
    """Train ``k`` networks of ``config`` independently (different init and minibatches).

    Parameters
    ----------
    config : NetworkConfig
    dataset : Dataset
    k : int
        Number of networks, >= 1.
    seed : int or numpy.random.SeedSequence
        Run seed; network i uses :func:`network_seed` (seed, first + i).
    progress : callable (fraction, message), optional
        Reported from ``span[0]`` to ``span[1]`` as the networks finish.
    span : (float, float)
    first : int
        Index of the first network (to draw networks disjoint from another call's).

    Returns
    -------
    TrainedNetworks
    """
    k = int_at_least("k", k, 1)
    spec, tc = model_spec(config), train_config(config)
    runs: list[TrainResult] = []
    seeds = [network_seed(seed, first + i) for i in range(k)]
    fm = None
    for i, s in enumerate(seeds):
        report(progress, span[0] + (span[1] - span[0]) * i / k,
               f"training network {i + 1}/{k}")
        net = spec.build(dataset.input_shape, dataset.n_classes, s)
        fm_i = FlatModel(net, config.device)
        runs.append(train(fm_i, dataset, tc, s))
        fm = fm if fm is not None else fm_i
    report(progress, span[1], f"trained {k} network(s)")
    return TrainedNetworks(fm, runs, seeds)


def load_and_train(config: NetworkConfig, k: int, seed: SeedLike, timer: Timer, *,
                   progress: Progress = None, span: tuple[float, float] = (0.0, 1.0),
                   label: str = "train") -> tuple[Dataset, TrainedNetworks]:
    """The common start of a real experiment: report "loading data", load the data set,
    then train ``k`` networks (:func:`train_networks`), timed as ``timer(label)``.

    Returns
    -------
    (Dataset, TrainedNetworks)
    """
    report(progress, 0.0, "loading data")
    dataset = load_dataset(config, seed)
    with timer(label):
        nets = train_networks(config, dataset, k, seed, progress=progress, span=span)
    return dataset, nets


def trajectory_series(runs: list[TrainResult]) -> dict[str, np.ndarray]:
    """Training curves of k runs with one config, as result series.

    Returns
    -------
    dict
        ``train_epoch`` (R,), ``train_curve_loss`` (k, R) full training loss,
        ``train_curve_accuracy`` (k, R), ``final_train_loss``, ``final_train_accuracy``,
        ``final_test_loss``, ``final_test_accuracy`` (k,) each.
    """
    return {
        "train_epoch": np.asarray(runs[0].trajectory.epoch, dtype=np.float64),
        "train_curve_loss": np.stack([r.trajectory.loss for r in runs]),
        "train_curve_accuracy": np.stack([r.trajectory.accuracy for r in runs]),
        "final_train_loss": np.array([r.train_loss for r in runs]),
        "final_train_accuracy": np.array([r.train_accuracy for r in runs]),
        "final_test_loss": np.array([r.test_loss for r in runs]),
        "final_test_accuracy": np.array([r.test_accuracy for r in runs]),
    }


def permuted_labels(dataset: Dataset, seed: SeedLike) -> Dataset:
    """``dataset`` with its training labels randomly permuted among the training samples
    (class frequencies kept; the test split unchanged).

    Parameters
    ----------
    dataset : Dataset
        Training labels of shape (N,).
    seed : int or numpy.random.SeedSequence
        The permutation's own stream.
    """
    perm = np.random.default_rng(seed).permutation(dataset.y_train.shape[0])
    return dataclasses.replace(dataset, y_train=dataset.y_train[torch.as_tensor(perm)],
                               name=f"{dataset.name}, permuted training labels")
