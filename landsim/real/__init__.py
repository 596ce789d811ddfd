"""Real-network validation with PyTorch: the building blocks of the E1-E7 experiments.

Imported only when used (``import landsim`` never imports torch). Everything runs on the
CPU by default and is deterministic for a seed; every ``device`` argument accepts
``"cpu"`` or ``"cuda"`` (ValueError when CUDA is not available). A point of weight space is
a flat 1-D tensor of length ``P = FlatModel.n_params``.

Modules (import them directly, e.g. ``from landsim.real import data, flat``)
----------------------------------------------------------------------------
data
    ``Dataset`` (x_train, y_train, x_test, y_test, n_classes; ``.to``, ``.batches``,
    ``.subset``, ``.flattened``); loaders ``digits`` (default, sklearn's bundled digits),
    ``teacher`` (random-MLP teacher labels), ``mixture`` (Gaussian mixture), ``idx``
    (MNIST-format IDX files, gz optional; ``read_idx``/``write_idx``), ``npz`` (arrays x, y);
    ``make_dataset(source, seed, **kw)``.
models
    ``MLP``, ``SmallCNN``, ``ModelSpec`` (frozen config, ``.build``, ``.to_dict``),
    ``build_model(name | nn.Module, input_shape=, n_classes=, seed=, **spec)``.
plugins
    Models, datasets and losses found by entry point (groups ``landsim.models``,
    ``landsim.datasets``, ``landsim.losses``): ``Plugin`` (name, config dataclass, build,
    summary), ``find``, ``installed``, ``config_schema``, ``make_config``,
    ``build_model`` / ``build_dataset`` / ``build_loss``; the built-ins (mlp, cnn; digits,
    teacher, mixture, idx, npz; cross_entropy) are plug-ins too. ``landsim plugins``
    lists what is installed.
flat
    ``FlatModel(model, device)``: ``n_params``, ``get_flat``, ``set_flat``, ``unflatten``,
    ``logits/loss(flat, x, y, buffers, batch_stats)``, ``evaluate``, ``accuracy``,
    ``bn_buffers(flat, x)`` (BN statistics recomputed with ``swa_utils.update_bn``),
    ``evaluate_points(flats (T, P), x, y, bn_x=)``; ``evaluate_splits(fm, flats, dataset)``.
train
    ``TrainConfig`` (sgd/momentum/adam, lr, constant/cyclic schedule, weight_decay, epochs,
    batch_size, record_every, keep_snapshots); ``train(model, dataset, config, seed,
    init=, device=) -> TrainResult`` (flat, init, trajectory of loss / weight norm /
    distance from init, snapshots, final metrics); the generic loop ``optimise``;
    ``save_checkpoint`` / ``load_checkpoint`` (``torch.load(weights_only=True)``).
curves
    ``Line``, ``PolyChain`` (one bend at t = 1/2), ``Bezier`` (quadratic), ``make_curve``;
    m-tunnels ``SimplexTunnel`` (fixed vertices, trainable centre, straight edges) and
    ``BezierSimplex`` (trainable edge controls), ``make_simplex``; ``fit_curve``, ``fit_simplex``
    (expected loss over uniform t / Dirichlet(1) weights); ``evaluate_path`` (train/test
    loss, accuracy and ``landsim.paths.barrier``), ``evaluate_simplex`` (on
    ``landsim.paths.simplex_grid``).
subspace
    ``make_projection`` (dense orthonormal or sparse), ``train_subspace`` (x = x0 + P z),
    ``intrinsic_dimension`` (accuracy vs d and d_int90), ``InSubspace`` / ``in_subspace``
    (a path's or simplex's free points in a random subspace) and ``simplex_threshold`` (E4:
    threshold d of an m-tunnel).
hessian
    ``hvp`` (jvp-of-grad or double backward), ``HessianOperator`` (scipy LinearOperator),
    ``top_eigenvalue_power``, ``top_eigenvalues_lanczos``, ``exact_hessian``, ``gradient``.
sections
    ``random_direction`` (optionally filter-normalised), ``plane_through`` (a plane through
    the origin containing an optimum), ``plane_section``, ``radial_section``,
    ``low_loss_width`` (arc width of the low-loss set at each radius).

Example
-------
>>> from landsim.real import data, models, flat, train, curves
>>> ds = data.digits(seed=0)
>>> nets = [models.build_model("mlp", input_shape=ds.input_shape, n_classes=10, seed=s)
...         for s in (0, 1)]
>>> ends = [train.train(n, ds, train.TrainConfig(epochs=5), seed=s).flat
...         for s, n in enumerate(nets)]
>>> fm = flat.FlatModel(nets[0])
>>> path = curves.Bezier(ends[0], ends[1])
>>> curves.fit_curve(path, fm, ds, train.TrainConfig(epochs=5), seed=0)
>>> curves.evaluate_path(path, fm, ds, t=21).train_barrier
"""

__all__ = ["data", "models", "flat", "train", "curves", "subspace", "hessian", "sections"]
