"""Model, dataset and loss plug-ins: discovery by entry point, validation, the built-ins, the
example plug-in package (examples/plugin) in a real experiment, and ``landsim plugins``."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from landsim import cli  # noqa: E402
from landsim.real import curves, data, models, plugins, train  # noqa: E402
from landsim.real.experiments import _setup  # noqa: E402
from landsim.real.experiments import e1_init_to_optimum as e1  # noqa: E402
from landsim.real.flat import FlatModel  # noqa: E402
from landsim.results import _jsonable  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "plugin"

TEST_MODULE = '''
from dataclasses import dataclass
import torch
from landsim.real.plugins import Plugin

@dataclass(frozen=True)
class LinearConfig:
    bias: bool = True  # a bias term
    scale: float = 1.0  # initial weight scale, > 0

    def __post_init__(self):
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale!r}")

def build(config, input_shape, n_classes, seed):
    net = torch.nn.Sequential(torch.nn.Flatten(),
                              torch.nn.Linear(input_shape[0], n_classes, bias=config.bias))
    with torch.no_grad():
        net[1].weight.mul_(config.scale)
    return net

@dataclass(frozen=True)
class NoConfig:
    pass

LINEAR = Plugin("tiny_linear", LinearConfig, build, "a linear classifier")
HINGE = Plugin("hinge", NoConfig,
               lambda cfg: torch.nn.MultiMarginLoss(), "multi-class hinge loss")
MISNAMED = Plugin("other_name", NoConfig, build, "calls itself other_name")
'''


def _install(site: Path, dist: str, groups: dict[str, dict[str, str]]) -> None:
    """Write ``dist``'s metadata (METADATA, entry_points.txt) into ``site``, as pip would."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in groups.items()))


@pytest.fixture
def on_path(monkeypatch):
    """Put folders on sys.path (undone afterwards, with the modules imported from them)."""
    before = set(sys.modules)

    def add(*folders: Path) -> None:
        for folder in folders:
            monkeypatch.syspath_prepend(str(folder))  # also clears the importlib caches

    yield add
    for name in set(sys.modules) - before:
        if name.startswith(("fake_lab_plugin", "landsim_example_plugin")):
            del sys.modules[name]


@pytest.fixture
def fake_lab(tmp_path, on_path):
    """A lab's package installed by its metadata only: a model, a loss, a broken and a
    misnamed entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "fake_lab_plugin.py").write_text(TEST_MODULE)
    _install(site, "fake_lab_plugin", {
        "landsim.models": {"tiny_linear": "fake_lab_plugin:LINEAR",
                           "broken": "fake_lab_plugin_missing:MODEL",
                           "misnamed": "fake_lab_plugin:MISNAMED"},
        "landsim.losses": {"hinge": "fake_lab_plugin:HINGE"}})
    on_path(site)
    return site


@pytest.fixture
def example(tmp_path, on_path):
    """examples/plugin, installed by its metadata (entry points from its pyproject.toml)."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    site = tmp_path / "example_site"
    site.mkdir()
    _install(site, "landsim_example_plugin", project["entry-points"])
    on_path(site, EXAMPLE)


def test_the_builtins_are_declared_in_pyproject_and_installed():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, eps in plugins.BUILTINS.items():
        assert declared[group] == eps
        assert {n: e.value for n, e in plugins.installed(group).items()} == eps
    assert set(plugins.installed()) == set(plugins.BUILTINS)


def test_an_installed_package_is_discovered_and_built(fake_lab):
    assert "tiny_linear" in plugins.installed("models")
    net = plugins.build_model("tiny_linear", {"bias": False, "scale": 2},
                              input_shape=(5,), n_classes=3, seed=1)
    again = plugins.build_model("tiny_linear", {"bias": False, "scale": 2.0},
                                input_shape=(5,), n_classes=3, seed=1)
    assert net[1].bias is None and torch.equal(net[1].weight, again[1].weight)
    loss = plugins.build_loss("hinge")
    assert loss(torch.zeros(2, 3), torch.tensor([0, 2])).ndim == 0
    schema = plugins.config_schema("tiny_linear")
    assert schema == [{"field": "bias", "type": "bool", "default": True, "doc": "a bias term",
                       "path": False},
                      {"field": "scale", "type": "float", "default": 1.0,
                       "doc": "initial weight scale, > 0", "path": False}]
    with pytest.raises(plugins.PluginError, match="broken = fake_lab_plugin_missing:MODEL"):
        plugins.find("models", "broken")
    with pytest.raises(plugins.PluginError, match="misnamed.*calls itself 'other_name'"):
        plugins.find("models", "misnamed")


def test_the_test_package_is_gone_afterwards():
    assert "tiny_linear" not in plugins.installed("models")


def test_an_unknown_plugin_lists_the_installed_ones():
    with pytest.raises(LookupError, match=r"'resnet50'.*installed model plug-ins: cnn, mlp"):
        plugins.find("models", "resnet50")
    with pytest.raises(LookupError, match="digits, idx, mixture, npz, teacher"):
        plugins.build_dataset("cifar10")
    with pytest.raises(ValueError, match="group must be one of"):
        plugins.installed("optimizers")


@pytest.mark.parametrize("values, match", [
    ({"widht": 3}, r"'widht' is not a setting of plug-in 'mlp'; valid settings: width, "
                   r"depth, batchnorm, activation"),
    ({"width": 0}, r"width must be an integer >= 1, got 0"),
    ({"width": "8"}, r"width must be of type int, got '8'"),
    ({"width": 2.5}, r"width must be of type int"),
    ({"activation": "gelu"}, r"activation must be one of \('relu', 'tanh'\)"),
    ({"batchnorm": 1}, r"batchnorm must be of type bool"),
])
def test_bad_settings_name_the_field(values, match):
    with pytest.raises(ValueError, match=match):
        plugins.make_config("mlp", values)


def test_settings_take_json_values():
    assert plugins.make_config("mlp", {"width": 8.0}).width == 8
    assert plugins.make_config("cnn", [["channels", [4, 8]]]).channels == (4, 8)
    with pytest.raises(ValueError, match=r"channels must have 2 values"):
        plugins.make_config("cnn", {"channels": [4, 8, 16]})
    with pytest.raises(ValueError, match="test_fraction must be in"):
        plugins.make_config("digits", {"test_fraction": 1.5}, "datasets")
    with pytest.raises(ValueError, match="path must be given"):
        plugins.make_config("npz", {}, "datasets")


def test_a_malformed_declaration_is_refused():
    @dataclass
    class Mutable:
        x: int = 1

    @dataclass(frozen=True)
    class NotJson:
        x: list = dataclasses.field(default_factory=list)

    with pytest.raises(ValueError, match="frozen dataclass"):
        plugins.Plugin("p", Mutable, lambda c: None, "s")
    with pytest.raises(ValueError, match="field 'x' must have a JSON type"):
        plugins.Plugin("p", NotJson, lambda c: None, "s")
    with pytest.raises(ValueError, match="single line"):
        plugins.Plugin("p", models.MLPConfig, lambda c: None, "two\nlines")


@pytest.mark.parametrize("name, settings, shape", [
    ("mlp", {"width": 12, "depth": 1}, (64,)),
    ("mlp", {"width": 7, "depth": 2, "batchnorm": True, "activation": "tanh"}, (2, 8)),
    ("cnn", {"channels": (4, 8), "batchnorm": True}, (1, 8, 8)),
])
def test_builtin_models_through_the_registry_are_the_same_networks(name, settings, shape):
    state = torch.random.get_rng_state()
    net = plugins.build_model(name, settings, input_shape=shape, n_classes=10, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    ref = models.ModelSpec(name, **settings).build(shape, 10, 5)
    a, b = net.state_dict(), ref.state_dict()
    assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_builtin_datasets_through_the_registry_are_the_same_tensors():
    for name, settings in (("digits", {}), ("teacher", {"n_train": 50, "n_test": 20}),
                           ("mixture", {"dim": 3, "n_train": 40, "n_test": 10})):
        ds = plugins.build_dataset(name, settings, seed=3)
        ref = data.make_dataset(name, seed=3, **settings)
        assert ds.name == ref.name
        for split in ("x_train", "y_train", "x_test", "y_test"):
            assert torch.equal(getattr(ds, split), getattr(ref, split))


def test_the_default_config_trains_the_same_mlp_on_the_same_data():
    cfg = e1.smoke_config()
    assert (cfg.model, cfg.model_config, cfg.dataset_config) == ("mlp", None, None)
    assert e1.Config(model_config=(), dataset_config={}) == e1.Config()
    net = _setup.model_spec(cfg).build((64,), 10, 3)
    ref = models.ModelSpec("mlp", width=cfg.width, depth=cfg.depth).build((64,), 10, 3)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), ref.parameters()))
    ds = _setup.load_dataset(cfg, 0)
    ref_ds = data.make_dataset("digits", seed=_setup.int_seed(_setup.run_sequences(0)[0]))
    assert torch.equal(ds.x_train, ref_ds.x_train[:cfg.n_train])


def test_network_config_settings_round_trip_through_json():
    cfg = e1.Config(model="cnn", model_config={"channels": [4, 8]},
                    dataset_config=[["image", True]])
    assert cfg.model_config == (("channels", (4, 8)),) and hash(cfg)
    stored = json.loads(json.dumps(_jsonable(dataclasses.asdict(cfg))))
    assert stored["model_config"] == [["channels", [4, 8]]]
    assert e1.Config(**stored) == cfg
    assert e1.Config(**json.loads(json.dumps(_jsonable(dataclasses.asdict(e1.Config()))))) \
        == e1.Config()


@pytest.mark.parametrize("changes, match", [
    ({"dataset": "cifar"}, r"dataset must be one of the installed dataset plug-ins \('digits'"),
    ({"model": "vit"}, r"model must be one of the installed model plug-ins \('cnn', 'mlp'\)"),
    ({"model_config": {"width": 3}}, r"must not set \['width'\] of the mlp"),
    ({"model": "cnn", "model_config": {"chanels": 3}}, r"model_config of 'cnn': 'chanels' is not"),
    ({"dataset_config": {"image": 2}}, r"dataset_config of 'digits': image must be of type bool"),
    ({"dataset": "idx"}, r"train_images must be given"),
    ({"model_config": [1, 2]}, r"model_config must be \(field, value\) pairs"),
])
def test_network_config_refuses_unknown_plugins_and_settings(changes, match):
    with pytest.raises(ValueError, match=match):
        e1.Config(**changes)


def test_plugin_model_batchnorm_override(fake_lab):
    # E6 sets batchnorm on the experiment's model: the mlp has the setting, others may not
    spec = _setup.model_spec(e1.Config(width=5, depth=1))
    bn = dataclasses.replace(spec, batchnorm=True).build((64,), 10, 0)
    assert FlatModel(bn).has_batchnorm and not FlatModel(spec.build((64,), 10, 0)).has_batchnorm
    assert plugins.PluginModel("tiny_linear", (), batchnorm=False).build((4,), 2, 0)
    with pytest.raises(ValueError, match="'tiny_linear' has no batchnorm setting"):
        plugins.PluginModel("tiny_linear", (), batchnorm=True)


def test_the_example_resnet_keeps_its_accuracy_with_recomputed_bn_statistics(example):
    assert {"resnet_bn", "synthetic_images"} <= set(plugins.installed("models")) | set(
        plugins.installed("datasets"))
    ds = plugins.build_dataset("synthetic_images", {"n_train": 256, "n_test": 128, "size": 8,
                                                    "channels": 1, "n_classes": 3,
                                                    "noise": 0.7}, seed=0)
    assert ds.input_shape == (1, 8, 8) and ds.n_classes == 3
    again = plugins.build_dataset("synthetic_images", {"n_train": 256, "n_test": 128,
                                                       "size": 8, "channels": 1,
                                                       "n_classes": 3, "noise": 0.7}, seed=0)
    assert torch.equal(ds.x_train, again.x_train)
    net = plugins.build_model("resnet_bn", {"channels": 4, "blocks": 1},
                              input_shape=ds.input_shape, n_classes=3, seed=0)
    assert net(ds.x_train[:5]).shape == (5, 3)
    assert net(torch.zeros(2, 3, 32, 32)[:, :1]).shape == (2, 3)  # any H x W
    fm = FlatModel(copy.deepcopy(net))
    assert fm.has_batchnorm
    res = train.train(net, ds, train.TrainConfig(optimizer="momentum", lr=0.05, epochs=4,
                                                 batch_size=32), seed=0)
    path = curves.evaluate_path(curves.Line(res.flat, res.init), fm, ds, t=3)
    # the trained module with its BN statistics recomputed by torch directly, same batches
    ref = copy.deepcopy(net)
    torch.optim.swa_utils.update_bn([ds.x_train[s:s + 256] for s in range(0, 256, 256)], ref)
    ref.eval()
    with torch.no_grad():
        acc = {s: float((ref(x).argmax(1) == y).double().mean())
               for s, (x, y) in (("train", (ds.x_train, ds.y_train)),
                                 ("test", (ds.x_test, ds.y_test)))}
    assert path.train_accuracy[0] == acc["train"] and path.test_accuracy[0] == acc["test"]
    assert acc["train"] > 0.6  # it learned (train's own figure uses the running averages)


def test_an_experiment_runs_on_plugins_end_to_end(example):
    cfg = dataclasses.replace(
        e1.smoke_config(), model="resnet_bn", model_config={"channels": 4, "blocks": 1},
        dataset="synthetic_images",
        dataset_config={"n_train": 128, "n_test": 64, "size": 8, "channels": 1,
                        "n_classes": 2, "noise": 0.5},
        n_train=0, epochs=2, line_points=3, lr=0.05)
    assert type(_setup.model_spec(cfg).build((1, 8, 8), 2, 0)).__name__ == "ResNetBN"
    result = e1.run(cfg, seed=0)
    assert result.config["model"] == "resnet_bn"
    assert result.config["dataset_config"][0] == ["channels", 1]
    assert result.series["line_train_loss"].shape == (2, 3)
    assert np.isfinite(result.series["line_train_loss"]).all()
    json.dumps(result.config)


def test_landsim_plugins_lists_the_builtins(capsys):
    assert cli.main(["plugins", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in listing["models"]] == ["cnn", "mlp"]
    assert [r["name"] for r in listing["datasets"]] == ["digits", "idx", "mixture", "npz",
                                                       "teacher"]
    assert [r["name"] for r in listing["losses"]] == ["cross_entropy"]
    mlp = listing["models"][1]
    assert mlp["config"][0] == {"field": "width", "type": "int", "default": 32,
                                "doc": "hidden units per layer, >= 1", "path": False}
    assert cli.main(["plugins"]) == 0
    assert "mlp  fully connected network" in capsys.readouterr().out


def test_landsim_plugins_shows_a_broken_plugin_and_fails(fake_lab):
    from landsim.plugins_cli import run_plugins

    out = io.StringIO()
    assert run_plugins(True, out=out) == 1
    rows = {r["name"]: r for r in json.loads(out.getvalue())["models"]}
    assert "fake_lab_plugin_missing" in rows["broken"]["error"]
    assert rows["tiny_linear"]["summary"] == "a linear classifier"


def test_landsim_plugins_without_torch_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    assert cli.main(["plugins"]) == 2
    assert 'pip install "landsim[torch]"' in capsys.readouterr().err
