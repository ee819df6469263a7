"""The command line: it parses, calls the library, and reports errors for people (bad parameters:
one line naming file and key, exit code 2, nothing written)."""
import pytest
import yaml

from sercore import cli
from sercore.paths import project_root

ROOT = project_root()


def test_unknown_dataset_names_what_exists(capsys):
    assert cli.main(["run", "ctmam", "--dataset", "no_such_dataset"]) == 2
    err = capsys.readouterr().err
    assert "datasets with parameters for ctmam: emodb, emodb_unstratified, iemocap, synthetic" in err and err.count("\n") == 1


@pytest.mark.parametrize("dataset", ["../mdat/emodb", "/some/where/x"])
def test_a_dataset_is_a_name_not_a_path(dataset, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path))
    assert cli.main(["run", "ctmam", "--dataset", dataset]) == 2
    assert "is not a name" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("text, words", [
    ("lr: 1e-3", ["'lr'", "the string '1e-3'"]),
    ("epochs_typo: 3", ["'epochs_typo'", "an unknown key"]),
    ("quick: {epochs: 0}", ["'epochs' (section 'quick')", ">= 1"]),
    ("lr: [0.1", ["not valid YAML"]),
    ("[1, 2]", ["expected a mapping"]),
])
def test_bad_params_exit_2_with_one_line_and_write_nothing(text, words, tmp_path, monkeypatch, at_project, capsys):
    """The real params file of a paper is replaced by a broken one (in a copy of the project)."""
    import shutil

    proj = tmp_path / "proj"
    shutil.copytree(ROOT / "params", proj / "params")
    shutil.copytree(ROOT / "book", proj / "book", ignore=shutil.ignore_patterns("_generated", "_build"))
    good = yaml.safe_load((proj / "params/ctmam/synthetic.yaml").read_text())
    bad = text if text.startswith(("[", "lr: [")) else yaml.safe_dump({**good, **yaml.safe_load(text)})
    (proj / "params/ctmam/synthetic.yaml").write_text(bad)
    at_project(proj)
    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path / "results"))
    assert cli.main(["run", "ctmam", "--dataset", "synthetic", "--profile", "quick"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: params/ctmam/synthetic.yaml: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, (w, err)
    assert not (tmp_path / "results").exists()


def test_fanout_refuses_bad_params_before_submitting(capsys):
    assert cli.main(["fanout", "mlcct", "--datasets", "nope", "--profiles", "smoke"]) == 1
    assert "no params/mlcct/<dataset>.yaml for ['nope']" in capsys.readouterr().err


def test_cli_module_only_parses():
    """cli.py holds argument parsing and reporting; the work is in runs, book, fanout, predict, data."""
    src = (ROOT / "sercore" / "cli.py").read_text()
    for name in ("def run_notebook", "def load_params", "def plan_runs", "def stage_book", "def build_book",
                 "def filtered_toc", "import papermill", "safe_load"):
        assert name not in src, name


def test_params_prints_the_resolved_parameters_for_papermill(capsys, tmp_path):
    from sercore import runs
    somewhere = tmp_path / "somewhere"
    somewhere.mkdir()
    assert cli.main(["params", "ctmam", "--dataset", "emodb", "--profile", "paper", "--seed", "2",
                     "--data-root", str(somewhere)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("# data root of this run: ") and "somewhere (from --data-root)" in out
    printed = yaml.safe_load(out)
    P = runs.resolve("ctmam", "emodb", "paper", {"seed": 2, "data_root": str(somewhere)})
    assert printed == P and list(printed) == list(P) and printed["seed"] == 2
