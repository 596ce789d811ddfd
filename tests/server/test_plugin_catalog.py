"""ListPlugins and the plug-in checks of real CreateJob requests."""

from __future__ import annotations

import json

import grpc
import pytest
from landsim_server.errors import InvalidArgument, NotFound
from landsim_server.plugin_catalog import PluginCatalog
from landsim_wire.v1 import jobs_pb2

from tests.server.test_job_service import JobServer, bad_field

LISTING = {"models": [{"name": "mlp", "summary": "an MLP", "entry_point": "x:y",
                       "config": [{"field": "width", "type": "int", "default": 32,
                                   "doc": ">= 1"}]},
                      {"name": "broken", "entry_point": "x:z", "error": "cannot import"}],
           "datasets": [{"name": "digits", "summary": "digits", "entry_point": "x:d",
                         "config": [{"field": "image", "type": "bool", "default": False,
                                     "doc": ""}]}],
           "losses": []}


def catalog(listing=LISTING) -> PluginCatalog:
    c = PluginCatalog(enabled=True)
    c._listing = listing  # as if read from the child process
    return c


def test_unknown_plugins_are_not_found_and_list_what_is_installed():
    with pytest.raises(NotFound) as err:
        catalog().check_real_config({"model": "resnet"})
    assert "no model plug-in 'resnet'" in err.value.message
    assert "installed: broken, mlp" in err.value.message
    with pytest.raises(NotFound, match="installed: digits"):
        catalog().check_real_config({"dataset": "cifar"})
    catalog().check_real_config({"model": "mlp", "dataset": "digits"})  # fine
    catalog().check_real_config({})  # the experiment's defaults


@pytest.mark.parametrize("settings", [{"depth": 2}, [["depth", 2]]])
def test_a_setting_the_plugin_lacks_is_invalid_argument_naming_it(settings):
    with pytest.raises(InvalidArgument) as err:
        catalog().check_real_config({"model": "mlp", "model_config": settings})
    assert err.value.field == "config.model_config.depth"
    assert "its settings are width" in err.value.message
    catalog().check_real_config({"model": "mlp", "model_config": {"width": 8}})
    with pytest.raises(InvalidArgument) as err:
        catalog().check_real_config({"dataset": "digits", "dataset_config": 3})
    assert err.value.field == "config.dataset_config"


def test_the_response_leaves_out_broken_plugins_and_says_why_it_is_empty():
    msg = catalog().to_proto()
    assert [(p.group, p.name) for p in msg.plugins] == [("models", "mlp"),
                                                        ("datasets", "digits")]
    assert msg.plugins[0].fields[0].default_json == "32"
    off = PluginCatalog(enabled=False).to_proto()
    assert not off.plugins and "--torch-worker" in off.unavailable
    assert catalog({}).check_real_config({"model": "anything"}) is None  # nothing known


def test_a_listing_child_that_fails_is_reported(monkeypatch):
    c = PluginCatalog(enabled=True)
    monkeypatch.setattr("landsim_server.plugin_catalog.LIST_COMMAND",
                        "import sys; sys.exit('no torch here')")
    listing, why = c.listing()
    assert listing == {} and "could not be listed" in why and "no torch here" in why


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    pytest.importorskip("torch")
    server = JobServer(tmp_path_factory.mktemp("plugins"), torch_worker=True, n_workers=0)
    yield server
    server.close()


def test_list_plugins_and_real_jobs_naming_plugins_over_grpc(served):
    msg = served.stub.ListPlugins(jobs_pb2.ListPluginsRequest(), timeout=300)
    names = {(p.group, p.name) for p in msg.plugins}
    assert {("models", "mlp"), ("models", "cnn"), ("datasets", "digits"),
            ("losses", "cross_entropy")} <= names and msg.unavailable == ""
    mlp = next(p for p in msg.plugins if p.name == "mlp")
    assert {"width", "depth"} <= {f.field for f in mlp.fields}

    def real(config):
        return jobs_pb2.CreateJobRequest(experiment_id="E1", kind=jobs_pb2.JOB_KIND_REAL,
                                         quick=True, config_json=json.dumps(config))

    with pytest.raises(grpc.RpcError) as err:
        served.stub.CreateJob(real({"model": "resnet9000"}), timeout=30)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "installed: cnn, mlp" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        served.stub.CreateJob(real({"model": "cnn", "model_config": {"kernel": 5}}),
                              timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field(err.value) == "config.model_config.kernel"
    job = served.stub.CreateJob(real({"model": "cnn", "model_config": {"channels": [4, 8]},
                                      "dataset": "digits"}), timeout=30)
    assert job.state == jobs_pb2.JOB_STATE_QUEUED  # queued (no worker takes it here)
    npz = next(p for p in msg.plugins if p.name == "npz")
    assert {f.field: f.path for f in npz.fields}["path"] is True
    with pytest.raises(grpc.RpcError) as err:  # this server has no --data-root
        served.stub.CreateJob(real({"dataset": "npz",
                                    "dataset_config": {"path": "../x.npz"}}), timeout=30)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert bad_field(err.value) == "config.dataset_config.path"


NPZ = {"datasets": [{"name": "npz", "summary": "npz", "entry_point": "x:n",
                     "config": [{"field": "path", "type": "str", "default": "", "doc": "",
                                 "path": True},
                                {"field": "test_fraction", "type": "float", "default": 0.2,
                                 "doc": "", "path": False}]}]}


@pytest.mark.parametrize("path", ["../secret.npz", "/etc/passwd", "link-out.npz"])
def test_data_files_outside_the_data_root_are_permission_denied(tmp_path, path):
    from landsim_server.errors import PermissionDenied

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.npz").write_bytes(b"s")
    (root / "link-out.npz").symlink_to(tmp_path / "secret.npz")
    c = catalog(NPZ)
    c.data_root = str(root)
    with pytest.raises(PermissionDenied) as err:
        c.check_real_config({"dataset": "npz", "dataset_config": {"path": path}})
    assert err.value.field == "config.dataset_config.path"
    c.check_real_config({"dataset": "npz", "dataset_config": {"path": "in/data.npz"}})
    c.check_real_config({"dataset": "npz", "dataset_config": {"test_fraction": 0.3}})
    c.data_root = None
    with pytest.raises(PermissionDenied, match="no --data-root"):
        c.check_real_config({"dataset": "npz", "dataset_config": {"path": "in/data.npz"}})
