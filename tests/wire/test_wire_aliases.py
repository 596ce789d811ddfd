"""The old homes of the wire code (landsim.v1, landsim.wire) warn and give the same objects;
``import landsim_wire`` stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

GENERATED = ["landscape_pb2", "landscape_pb2_grpc", "jobs_pb2", "jobs_pb2_grpc",
             "ndarray_pb2", "ndarray_pb2_grpc"]


def _forget_old_names():
    for name in [n for n in sys.modules if n == "landsim.v1" or n.startswith("landsim.v1.")]:
        del sys.modules[name]
    if "landsim" in sys.modules:
        sys.modules["landsim"].__dict__.pop("v1", None)


@pytest.mark.parametrize("name", GENERATED)
def test_old_generated_module_path_warns_and_is_the_same_module(name):
    new = importlib.import_module(f"landsim_wire.v1.{name}")
    _forget_old_names()
    with pytest.warns(DeprecationWarning, match=f"landsim_wire.v1.{name}"):
        old = importlib.import_module(f"landsim.v1.{name}")
    assert old is new
    _forget_old_names()
    import landsim.v1
    with pytest.warns(DeprecationWarning, match=name):
        attr = getattr(landsim.v1, name)
    assert attr is new


def test_old_from_imports_warn_and_give_the_same_classes():
    from landsim_wire.v1 import landscape_pb2, ndarray_pb2

    _forget_old_names()
    with pytest.warns(DeprecationWarning):
        from landsim.v1.ndarray_pb2 import NdArray
    with pytest.warns(DeprecationWarning):
        from landsim.v1 import landscape_pb2 as old_pb
    assert NdArray is ndarray_pb2.NdArray and old_pb is landscape_pb2
    with pytest.raises(AttributeError):
        import landsim.v1
        landsim.v1.nothing_pb2  # noqa: B018


def test_old_wire_names_warn_and_are_the_same_objects():
    from landsim_wire import chunks

    import landsim.wire
    for name in chunks.__all__:
        with pytest.warns(DeprecationWarning, match=f"landsim_wire.chunks.{name}"):
            assert getattr(landsim.wire, name) is getattr(chunks, name)
    with pytest.warns(DeprecationWarning):
        from landsim.wire import encode_chunk
    assert encode_chunk is chunks.encode_chunk


def test_new_names_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for module in ("landsim_wire.arrays", "landsim_wire.chunks", "landsim_wire.messages",
                       "landsim_wire.enums", *(f"landsim_wire.v1.{n}" for n in GENERATED)):
            importlib.import_module(module)


def test_landsim_wire_loads_no_heavy_or_library_module():
    code = ("import sys, landsim_wire, landsim_wire.arrays, landsim_wire.chunks, "
            "landsim_wire.messages, landsim_wire.enums, landsim_wire.errors, "
            "landsim_wire.v1.landscape_pb2_grpc, landsim_wire.v1.jobs_pb2_grpc\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numba', 'scipy', 'torch', 'landsim', 'landsim_server', 'landsim_client'))\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]", out.stdout
