"""Files named by jobs stay inside the data root (landsim.real.data_root)."""

from __future__ import annotations

import os

import pytest

from landsim.real.data_root import DATA_ROOT_ENV, PathOutsideRoot, data_path, resolve_under


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "mnist").mkdir(parents=True)
    (r / "mnist" / "train.npz").write_bytes(b"x")
    (tmp_path / "secret.npz").write_bytes(b"s")
    os.symlink(tmp_path / "secret.npz", r / "link-out.npz")
    os.symlink(r / "mnist" / "train.npz", r / "link-in.npz")
    return r


def test_paths_inside_the_root_resolve(root):
    assert resolve_under(root, "mnist/train.npz") == (root / "mnist" / "train.npz").resolve()
    assert resolve_under(root, "mnist/../mnist/train.npz").name == "train.npz"
    assert resolve_under(root, "link-in.npz").name == "train.npz"  # a link that stays in
    assert resolve_under(root, "not-there-yet.npz").parent == root.resolve()


@pytest.mark.parametrize("name", ["../secret.npz", "mnist/../../secret.npz", "link-out.npz",
                                  "/etc/passwd", "", "a\x00b"])
def test_escapes_are_refused(root, name):
    with pytest.raises(PathOutsideRoot):
        resolve_under(root, name)
    assert issubclass(PathOutsideRoot, PermissionError)


def test_data_path_follows_the_environment(root, monkeypatch):
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    assert str(data_path("/any/where.npz")) == "/any/where.npz"  # the library: as given
    monkeypatch.setenv(DATA_ROOT_ENV, str(root))
    assert data_path("mnist/train.npz").exists()
    with pytest.raises(PathOutsideRoot, match="outside the data root"):
        data_path("link-out.npz")
    monkeypatch.setenv(DATA_ROOT_ENV, "")  # a service worker without a data root
    with pytest.raises(PathOutsideRoot, match="no --data-root"):
        data_path("mnist/train.npz")


def test_the_npz_plugin_opens_its_file_under_the_root(root, monkeypatch):
    pytest.importorskip("torch")
    import numpy as np

    from landsim.real import plugins

    rng = np.random.default_rng(0)
    np.savez(root / "mnist" / "data.npz", x=rng.normal(size=(40, 5)),
             y=rng.integers(0, 2, size=40))
    monkeypatch.setenv(DATA_ROOT_ENV, str(root))
    ds = plugins.build_dataset("npz", {"path": "mnist/data.npz"}, seed=0)
    assert ds.x_train.shape[1] == 5
    with pytest.raises(PathOutsideRoot):
        plugins.build_dataset("npz", {"path": "../secret.npz"}, seed=0)
    schema = {f["field"]: f for f in plugins.config_schema("npz", "datasets")}
    assert schema["path"]["path"] is True and schema["test_fraction"]["path"] is False
