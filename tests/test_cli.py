"""The ``landsim`` command line, end to end in-process."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from landsim import cli


def test_demo_reports_the_model_geometry(tmp_path, capsys):
    out = tmp_path / "demo.json"
    assert cli.main(["demo", "--dim", "600", "--wedges", "4", "--short", "60", "--seed", "3",
                     "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    counts = [row["short_count"] for row in res["intersections"]]
    assert counts[0] == 60
    assert all(b > a for a, b in zip(counts, counts[1:]))  # every optimum adds directions
    for row in res["intersections"]:
        assert row["short_count"] + row["long_dim"] == 600
        assert abs(row["short_count"] - row["expected"]) < 0.2 * row["expected"]
    assert all(res["descent"]["reached"])
    assert res["tunnel"]["line_barrier"] > 0.1
    assert res["tunnel"]["tunnel_barrier"] < 1e-3 * res["tunnel"]["line_barrier"]
    arcs = np.array(res["radial_section"]["low_loss_arc"])
    assert np.all(np.diff(arcs[1:]) > 0)  # the low-loss set widens with the radius
    assert "m-wedge intersections" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["demo", "--dim", "0"], "must be an integer >= 1, got 0"),
    (["demo", "--dim", "50", "--short", "60"], r"n_short must be an integer in \[1, dim - 1 = 49\]"
                                               r" .*, got 60"),
    (["demo", "--dim", "50", "--short", "50"], r"n_short must be an integer in \[1, dim - 1 = 49\]"
                                               r" .*, got 50"),
    (["demo", "--eps1", "-1"], "must be a number >= 0, got -1"),
    (["demo", "--wedges", "1"], "n_wedges must be >= 2"),
])
def test_demo_rejects_bad_arguments(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert re.search(message, capsys.readouterr().err)
