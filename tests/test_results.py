"""metrics.json: schema validation, writing, reading, reported-vs-measured rows, collection."""
import json

import pytest

from sercore import results
from sercore.metrics import classification_report


def _run(tmp_path, **kw):
    rep = classification_report([0, 1, 1, 0], [0, 1, 0, 0], ["neutral", "angry"])
    run = results.Run({"paper": "ctmam", "dataset": "emodb", "profile": "smoke", "seed": 3,
                       "results_dir": str(tmp_path / "out"), "epochs": 2})
    result = results.ChapterResult(
        protocol={"name": "random"}, metrics=rep["metrics"], per_class=rep["per_class"],
        confusion=rep["confusion"],
        comparisons=results.compare_with_paper("ctmam", "Table II", "Proposed", {"wa": rep["metrics"]["wa"]},
                                               dataset="emodb"), **kw)
    data = run.write(result, corpus=_Corpus())
    return run, data


class _Corpus:
    """What Run.write asks of a corpus: whether it is synthetic, its caveat, its record."""
    synthetic = False
    note = "copy cut to 2 s"

    def record(self):
        return {"name": "emodb", "version": "0" * 12}


def test_run_writes_a_valid_metrics_json(tmp_path):
    run, data = _run(tmp_path)
    back = results.read_metrics(run.metrics_path)
    assert back["metrics"]["wa"] == pytest.approx(75.0)
    assert back["seed"] == 3 and back["profile"] == "smoke"
    assert back["git_sha"] and back["device"].startswith(("cpu", "cuda"))
    assert back["extra"]["params"]["epochs"] == 2 and back["corpus_note"] == "copy cut to 2 s"
    assert json.loads((run.out_dir / "config.json").read_text())["seed"] == 3
    # the reported number is copied from the paper's Table II (Emo-DB, proposed model)
    c = back["comparisons"][0]
    assert (c["table"], c["row"], c["metric"], c["reported"]) == ("Table II", "Proposed", "wa", 90.65)
    assert c["measured"] == pytest.approx(75.0)


def test_validation_lists_problems(tmp_path):
    _, data = _run(tmp_path)
    bad = dict(data, metrics={**data["metrics"], "ua": 0.75 * 1000})
    with pytest.raises(ValueError, match="percent"):
        results.validate_metrics(bad)
    with pytest.raises(ValueError, match="missing key 'seed'"):
        results.validate_metrics({k: v for k, v in data.items() if k != "seed"})
    with pytest.raises(ValueError, match="2x2"):
        results.validate_metrics(dict(data, confusion={"labels": ["a", "b"], "matrix": [[1, 2]]}))
    with pytest.raises(ValueError, match="bool"):
        results.validate_metrics(dict(data, synthetic="no"))


def test_collect_reports_invalid_files_instead_of_dropping_them(tmp_path):
    run, _ = _run(tmp_path)
    root = tmp_path / "results"
    good = root / "ctmam" / "emodb" / "smoke"
    good.mkdir(parents=True)
    good.joinpath("metrics.json").write_text(run.metrics_path.read_text())
    broken = root / "mdat" / "emodb" / "quick"
    broken.mkdir(parents=True)
    broken.joinpath("metrics.json").write_text("{not json")
    runs = results.collect(root)
    assert len(runs) == 2
    assert any("error" in r and "mdat" in r["_path"] for r in runs)
    board = results.scoreboard(runs)
    assert list(board["paper"]) == ["ctmam"]
    assert board["deviation"].iloc[0] == pytest.approx(75.0 - 90.65)
    assert set(results.runs_frame(runs)["paper"].dropna()) == {"ctmam"}


def test_reference_table_pivots_the_papers_numbers():
    t = results.reference_table("ca_ser", "Table 1")
    assert t.loc["CA-SER [OURS]", "wa"] == pytest.approx(72.34)
    assert t.loc["CA-SER [OURS]", "ua"] == pytest.approx(71.53)
    with pytest.raises(KeyError, match="known"):
        results.reference_table("ca_ser", "Table 9")


def test_comparison_frame_deviation():
    df = results.comparison_frame([results.comparison("T", "r", "ua", 70.0, 65.5)])
    assert df["deviation"].iloc[0] == pytest.approx(-4.5)


def test_sortable_tables_carry_the_class_the_book_script_looks_for():
    import pandas as pd
    from sercore import results as r
    html = r.sortable(pd.DataFrame({"a": [1.234, None]})).to_html()
    assert 'class="sortable"' in html and "1.23" in html and "–" in html
    board = pd.DataFrame([{"paper": "p", "dataset": "d", "profile": "smoke", "data used": "d", "synthetic": True,
                           "table": "T", "row": "r", "metric": "ua", "reported": 1.0, "measured": 2.0,
                           "deviation": 1.0, "note": "n"}])
    assert 'class="sortable"' in r.style_scoreboard(board).to_html()
