"""Result records: validation and an exact JSON + NPZ round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from landsim.results import Result, Verdict, load_result, load_results, make_result, save_result


def _result(**changes) -> Result:
    args = dict(experiment="E9", config={"a": 1, "b": (1.5, 2.5), "name": "x<y"}, seed=3,
                metrics={"m": 0.1 + 0.2, "nan": math.nan, "inf": -math.inf, "n": 4},
                series={"t": np.linspace(0, 1, 7), "grid": np.arange(12.0).reshape(3, 4),
                        "ids": np.array([3, 1, 2]), "flags": np.array([True, False])},
                verdict=Verdict(True, "x <= 1", "x was 0.3."), timings={"total": 1.25})
    args.update(changes)
    return make_result(**args)


def test_round_trip_is_exact(tmp_path):
    r = _result()
    path = save_result(r, tmp_path)
    assert path.name == "E9-toy-claim-seed3-r0.json"
    assert (tmp_path / "E9-toy-claim-seed3-r0.npz").exists()
    back = load_result(path)
    assert back.to_json_dict() == r.to_json_dict()
    assert back.metrics["m"] == 0.1 + 0.2  # bit-exact float
    assert math.isnan(back.metrics["nan"]) and back.metrics["inf"] == -math.inf
    assert back.series.keys() == r.series.keys()
    for k in r.series:
        assert back.series[k].dtype == r.series[k].dtype
        np.testing.assert_array_equal(back.series[k], r.series[k])
    assert back.verdict == r.verdict
    assert back.config["b"] == [1.5, 2.5]


def test_json_is_plain_json(tmp_path):
    path = save_result(_result(), tmp_path)
    data = json.loads(path.read_text())  # no NaN tokens: strict parsers accept it
    assert data["metrics"]["nan"] == "nan"
    assert data["series"]["grid"] == {"dtype": "float64", "shape": [3, 4]}


def test_load_results_sorts_and_skips_other_files(tmp_path):
    save_result(_result(experiment="E2"), tmp_path)
    save_result(_result(experiment="E1", seed=1), tmp_path)
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "broken.json").write_text("{")
    assert [(r.experiment, r.seed) for r in load_results(tmp_path)] == [("E1", 1), ("E2", 3)]


def test_make_result_accepts_a_dataclass_config():
    from landsim.experiments import get

    cfg = get("E1").quick_config()
    r = _result(config=cfg)
    assert r.config["dim"] == cfg.dim and r.version


@pytest.mark.parametrize("changes,message", [
    (dict(kind="fake"), r"kind must be one of \('toy', 'real'\), got 'fake'"),
    (dict(experiment=""), "experiment must be a non-empty string"),
    (dict(metrics={"m": "high"}), "metric 'm' must be a real number, got 'high'"),
    (dict(metrics={"m": True}), "metric 'm' must be a real number, got True"),
    (dict(series={"s": np.array([{}], dtype=object)}), "series 's' must be a numeric array"),
    (dict(config={"f": object()}), "is not JSON-representable"),
    (dict(verdict="holds"), "verdict must be a Verdict, got str"),
])
def test_result_validation(changes, message):
    with pytest.raises(ValueError, match=message):
        _result(**changes)


def test_verdict_validation():
    with pytest.raises(ValueError, match="holds must be a bool, got 1"):
        Verdict(1, "r", "e")
    with pytest.raises(ValueError, match="evidence must be a non-empty string"):
        Verdict(True, "r", "")
    assert Verdict(np.bool_(False), "r", "e").holds is False


def test_load_rejects_foreign_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="is not a landsim result"):
        load_result(p)
