"""The run -> metrics.json pipeline: parameters, papermill execution, failure handling, determinism."""
import json
import subprocess
import sys

import nbformat
import pytest
import yaml

from sercore import cli
from sercore.paths import project_root

ROOT = project_root()


def test_params_merge_profile_sections(tmp_path):
    (tmp_path / "params" / "p").mkdir(parents=True)
    (tmp_path / "params" / "p" / "d.yaml").write_text(yaml.safe_dump(
        {"epochs": 100, "lr": 0.1, "smoke": {"epochs": 1}, "quick": {"epochs": 5}}))
    assert cli.load_params("p", "d", "smoke", tmp_path) == {"epochs": 1, "lr": 0.1}
    assert cli.load_params("p", "d", "paper", tmp_path) == {"epochs": 100, "lr": 0.1}
    (tmp_path / "params" / "p" / "bad.yaml").write_text(yaml.safe_dump({"opt": {"lr": 1}}))
    with pytest.raises(ValueError, match="scalar or a flat list"):
        cli.load_params("p", "bad", "smoke", tmp_path)
    with pytest.raises(FileNotFoundError, match="datasets with parameters"):
        cli.load_params("p", "nope", "smoke", tmp_path)


def test_every_params_file_is_valid_for_every_profile():
    for paper in (*cli.PAPERS, *cli.STUDIES):
        for ds in cli.datasets_with_params(paper, ROOT):
            for prof in cli.PROFILES:
                p = cli.load_params(paper, ds, prof, ROOT)
                # a chapter over several corpora (MDAT's `corpora`) maps each with its own label map
                need = {"corpus", "protocol", "epochs"} | ({"label_map"} if "corpora" not in p else set())
                assert need <= set(p), (paper, ds, prof, need - set(p))


def _fake_project(tmp_path, body):
    """A project with one notebook `ctmam.ipynb` whose code cell is ``body``."""
    (tmp_path / "book").mkdir(parents=True)
    (tmp_path / "params" / "ctmam").mkdir(parents=True)
    (tmp_path / "params" / "ctmam" / "toy.yaml").write_text("value: 1\nsmoke: {value: 2}\n")
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell("paper = 'x'\ndataset = 'x'\nprofile = 'x'\nseed = 0\n"
                                  "data_root = None\nresults_dir = None\nvalue = 0")
    p.metadata["tags"] = ["parameters"]
    nb.cells = [p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "book" / "ctmam.ipynb")
    return tmp_path


WRITE_METRICS = """
from sercore import results
from sercore.metrics import classification_report
rep = classification_report([0, 1], [0, value % 2], ["a", "b"])
results.Run(paper, dataset, profile, seed, results_dir).write(
    protocol={"name": "random"}, metrics=rep["metrics"], per_class=rep["per_class"],
    confusion=rep["confusion"], synthetic=True)
"""


def test_failing_notebook_keeps_earlier_results(tmp_path):
    proj = _fake_project(tmp_path / "proj", WRITE_METRICS)
    out = cli.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    first = json.loads((out / "metrics.json").read_text())
    assert first["extra"]["params"] == {} and first["metrics"]["wa"] == 50.0  # value 2 from smoke
    # now the notebook fails in its second cell
    nb = nbformat.read(proj / "book" / "ctmam.ipynb", as_version=4)
    nb.cells[1].source = "raise RuntimeError('corpus exploded')"
    nbformat.write(nb, proj / "book" / "ctmam.ipynb")
    with pytest.raises(RuntimeError, match="corpus exploded") as err:
        cli.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    assert "earlier results" in str(err.value)
    assert json.loads((out / "metrics.json").read_text()) == first          # untouched
    assert (out.parent / "smoke.failed" / "ctmam.ipynb").exists()           # the failed run is kept


def test_notebook_without_metrics_is_a_failure(tmp_path):
    proj = _fake_project(tmp_path / "proj", "x = 1")
    with pytest.raises(RuntimeError, match="metrics.json"):
        cli.run_notebook("ctmam", "toy", "smoke", root=proj, results_root=tmp_path / "res")
    assert not (tmp_path / "res" / "ctmam" / "toy" / "smoke").exists()


@pytest.mark.slow
def test_sercore_run_twice_gives_identical_metrics(tmp_path):
    """The real CLI on the real notebook: valid metrics.json, and the same seed gives the same numbers."""
    metrics = []
    for i in range(2):
        res = tmp_path / f"r{i}"
        proc = subprocess.run([sys.executable, "-m", "sercore.cli", "run", "ctmam", "--dataset", "synthetic",
                               "--profile", "smoke", "--seed", "1"], capture_output=True, text=True,
                              env={**__import__("os").environ, "SERCORE_RESULTS": str(res)}, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        d = json.loads((res / "ctmam" / "synthetic" / "smoke" / "metrics.json").read_text())
        assert (res / "ctmam" / "synthetic" / "smoke" / "ctmam.ipynb").exists()
        assert d["paper"] == "ctmam" and d["synthetic"] is True and d["seed"] == 1
        assert d["comparisons"] and d["comparisons"][0]["reported"] is not None
        metrics.append((d["metrics"], d["per_class"], d["confusion"]))
    assert metrics[0] == metrics[1]


def test_run_cli_reports_errors_for_people(tmp_path, capsys):
    rc = cli.main(["run", "ctmam", "--dataset", "no_such_dataset"])
    assert rc == 1
    assert "datasets with parameters" in capsys.readouterr().err


def test_filtered_toc_leaves_out_chapters_with_no_page(tmp_path, capsys):
    import yaml
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "_generated" / "a").mkdir(parents=True)
    for f in ("book/index.md", "book/chapters/a.md", "book/chapters/b.md", "book/_generated/a/x.ipynb"):
        (tmp_path / f).write_text("{}")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "book/index", "parts": [
        {"caption": "P", "chapters": [
            {"file": "book/chapters/a", "sections": [{"glob": "book/_generated/a/*"}]},
            {"file": "book/chapters/b", "sections": [{"glob": "book/_generated/b/*"}]},
            {"file": "book/_generated/scoreboard"}]}]}))
    toc = yaml.safe_load(cli.filtered_toc(tmp_path).read_text())
    chapters = toc["parts"][0]["chapters"]
    assert [c["file"] for c in chapters] == ["book/chapters/a"]
    assert chapters[0]["sections"] == [{"glob": "book/_generated/a/*"}]
    said = capsys.readouterr().out
    assert "book/chapters/b" in said and "book/_generated/scoreboard" in said


def test_staged_page_hides_the_defaults_and_collapses_the_values_that_ran(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    nb = new_notebook(cells=[new_markdown_cell("# CTMAM: title\n\ntext"),
                             new_code_cell("epochs = 2", metadata={"tags": ["parameters"]}),
                             new_code_cell("epochs = 40", metadata={"tags": ["injected-parameters"]})])
    nbformat.write(nb, tmp_path / "in.ipynb")
    cli._stage_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", "emodb (quick profile)")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].source.startswith("# CTMAM on emodb (quick profile)")
    assert "remove-cell" in out.cells[1].metadata["tags"]
    assert "hide-input" in out.cells[2].metadata["tags"]


def test_benchmarks_page_is_staged_with_or_without_a_run(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    page = cli.stage_benchmarks(gen, ROOT, tmp_path / "results")
    assert "No benchmark has been run" in page.read_text()
