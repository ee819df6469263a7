"""The book's staging: the toc filtered to pages that exist, staged pages, the benchmarks page."""
import nbformat
import yaml

from sercore import book
from sercore.paths import project_root

ROOT = project_root()


def test_filtered_toc_leaves_out_chapters_with_no_page(tmp_path, capsys):
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "_generated" / "a").mkdir(parents=True)
    for f in ("book/index.md", "book/chapters/a.md", "book/chapters/b.md", "book/_generated/a/x.ipynb"):
        (tmp_path / f).write_text("{}")
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "book/index", "parts": [
        {"caption": "P", "chapters": [
            {"file": "book/chapters/a", "sections": [{"glob": "book/_generated/a/*"}]},
            {"file": "book/chapters/b", "sections": [{"glob": "book/_generated/b/*"}]},
            {"file": "book/_generated/scoreboard"}]}]}))
    toc = yaml.safe_load(book.filtered_toc(tmp_path).read_text())
    chapters = toc["parts"][0]["chapters"]
    assert [c["file"] for c in chapters] == ["book/chapters/a"]
    assert chapters[0]["sections"] == [{"glob": "book/_generated/a/*"}]
    said = capsys.readouterr().out
    assert "book/chapters/b" in said and "book/_generated/scoreboard" in said


def test_staged_page_hides_the_defaults_and_the_injected_values_with_their_machine_paths(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    nb = new_notebook(cells=[new_markdown_cell("# CTMAM: title\n\ntext"),
                             new_code_cell("epochs = 2", metadata={"tags": ["parameters"]}),
                             new_code_cell("epochs = 40", metadata={"tags": ["injected-parameters"]})])
    nbformat.write(nb, tmp_path / "in.ipynb")
    book._stage_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", "emodb (quick profile)")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].source.startswith("# CTMAM on emodb (quick profile)")
    assert "remove-cell" in out.cells[1].metadata["tags"]
    assert "remove-cell" in out.cells[2].metadata["tags"]      # data_root, results_dir: this machine's paths


def test_staged_page_folds_the_input_of_every_code_cell_a_tag_does_not_handle(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    nb = new_notebook(cells=[new_markdown_cell("# MDAT: title"), new_code_cell("show.provenance(out)"),
                             new_code_cell("x = 1", metadata={"tags": ["remove-cell"]}),
                             new_code_cell("epochs = 2", metadata={"tags": ["parameters"]})])
    nbformat.write(nb, tmp_path / "in.ipynb")
    book._stage_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", None)
    tags = [c.metadata.get("tags", []) for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells]
    assert tags == [[], ["hide-input"], ["remove-cell"], ["parameters"]]


def test_benchmarks_page_is_staged_with_or_without_a_run(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    page = book.stage_benchmarks(gen, ROOT, tmp_path / "results")
    assert "benchmarks.json` does not exist" in page.read_text() and "benchmarks/run" in page.read_text()


def test_run_parallel_runs_side_by_side_in_order_and_returns_a_failure_in_its_place():
    import os
    import time

    t0 = time.time()
    got = book.run_parallel(time.sleep, [(3.0,), (3.0,)], jobs=2)
    wall = time.time() - t0
    assert got == [None, None]
    # one after the other takes >= 6 s; side by side 3 s plus starting two spawned interpreters, which a busy
    # machine (the other test worker) can stretch to a second or two
    assert wall < 5.5, f"two 3-s calls took {wall:.2f} s on 2 workers: they did not run side by side"
    pids = book.run_parallel(os.getpid, [(), (), ()], jobs=2)
    assert all(p != os.getpid() for p in pids)                     # separate processes (own environments)
    out = book.run_parallel(int, [("3",), ("x",), ("5",)], jobs=2)
    assert out[0] == 3 and out[2] == 5 and isinstance(out[1], ValueError)
    assert book.run_parallel(int, [("7",), ("y",)], jobs=1)[0] == 7   # one at a time: same contract


def test_the_longest_runs_go_first_and_a_leaderboard_that_never_ran_counts_as_long(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SERCORE_RESULTS", str(tmp_path))
    for p, d, s in (("ctmam", "emodb", 80.0), ("mdat", "emodb", 40.0), ("ca_ser", "emodb", 120.0)):
        (tmp_path / p / d / "quick").mkdir(parents=True)
        (tmp_path / p / d / "quick" / "metrics.json").write_text(json.dumps({"runtime_s": s}))
    plan = [("data", "all"), ("ctmam", "emodb"), ("mdat", "emodb"), ("leaderboard", "x"), ("ca_ser", "emodb"),
            ("mlcct", "x"), ("mlcct", "iemocap_text")]
    # own runtimes first; a never-run leaderboard is long; a clean clone's known cells take their typical
    # quick time (MLCCT on the transcripts: 73 s), an unknown chapter 60 s, the data chapter last
    assert book._longest_first(plan, "quick") == [("leaderboard", "x"), ("ca_ser", "emodb"), ("ctmam", "emodb"),
                                                  ("mlcct", "iemocap_text"), ("mlcct", "x"), ("mdat", "emodb"), ("data", "all")]


def test_a_board_published_on_these_corpus_files_is_not_run_again_at_quick_size(monkeypatch, capsys):
    from types import SimpleNamespace

    from sercore import book, experiment, leaderboard, records

    items = [{"provenance": {"params": {"corpus": "emodb", "data_root": "/elsewhere"}, "corpus_fingerprint": "abc",
                             "seed": s}} for s in (0, 1)]
    monkeypatch.setattr(records, "published_cells", lambda root, paper=None, dataset=None:
                        {("leaderboard", "emodb", "reference"): items} if dataset == "emodb" else {})
    seen = {}

    def load(P):
        seen.update(P)
        return SimpleNamespace(version=lambda: version)

    monkeypatch.setattr(experiment, "load_corpus", load)
    version = "abc"
    assert leaderboard.published_on_these_files("emodb", "/data") == "records/leaderboard/emodb/reference, seeds 0, 1"
    assert seen["data_root"].endswith("data") and seen["data_root"] != "/elsewhere"   # the files found here
    version = "other files"
    assert leaderboard.published_on_these_files("emodb", "/data") is None
    assert leaderboard.published_on_these_files("meld", "/data") is None               # nothing published
    monkeypatch.setattr(experiment, "load_corpus", lambda P: (_ for _ in ()).throw(FileNotFoundError("no corpus")))
    assert leaderboard.published_on_these_files("emodb", "/data") is None

    monkeypatch.setattr(leaderboard, "published_on_these_files", lambda ds, root=None:
                        "records/leaderboard/emodb/reference, seeds 0, 1" if ds == "emodb" else None)
    plan = [("ctmam", "emodb"), ("leaderboard", "emodb"), ("leaderboard", "meld")]
    assert book._without_published_boards(plan, None, "quick") == [("ctmam", "emodb"), ("leaderboard", "meld")]
    out = capsys.readouterr().out
    assert "leaderboard/emodb: not run at quick size" in out and "--all-boards" in out
    assert book._without_published_boards(plan, None, "paper") == plan               # a paper build runs all
