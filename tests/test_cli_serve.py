"""``landsim serve``: the server is found through the "landsim.commands" entry point.

The real command runs as a process in tests/server/test_serve_cli.py; here the lookup is
replaced, so these tests need neither grpc nor a port.
"""

from __future__ import annotations

import ast
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from landsim import cli, commands


def test_the_installed_entry_point_is_the_servers_main():
    from landsim_server.__main__ import main

    assert commands.find_command("serve") is main


def test_serve_runs_the_entry_point_with_its_arguments(monkeypatch):
    calls = []

    def fake_main(argv, prog):
        calls.append((argv, prog))
        return 7

    monkeypatch.setattr(commands, "find_command", lambda name: fake_main)
    assert cli.main(["serve", "--port", "0", "--workers", "0"]) == 7
    assert calls == [(["--port", "0", "--workers", "0"], "landsim serve")]


def test_missing_entry_point_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setattr(commands, "entry_points", lambda **kwargs: ())
    assert cli.main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "landsim serve: error: the server is not installed: pip install landsim[server]" \
        in err


def test_an_entry_point_that_cannot_be_imported_says_what_to_install(monkeypatch, capsys):
    broken = EntryPoint(name="serve", value="landsim_no_such_server.__main__:main",
                        group=commands.COMMAND_GROUP)
    monkeypatch.setattr(commands, "entry_points", lambda **kwargs: (broken,))
    assert cli.main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "the server is not installed: pip install landsim[server]" in err
    assert "ModuleNotFoundError" in err and "landsim_no_such_server" in err


def test_other_missing_commands_are_named(monkeypatch):
    monkeypatch.setattr(commands, "entry_points", lambda **kwargs: ())
    with pytest.raises(LookupError, match="no landsim command 'other' is installed"):
        commands.find_command("other")


def test_the_core_cli_does_not_import_the_server():
    for name in ("cli.py", "commands.py"):
        tree = ast.parse((Path(cli.__file__).parent / name).read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "landsim_server" for m in imported), name
