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


def test_staged_page_hides_the_defaults_and_collapses_the_values_that_ran(tmp_path):
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    nb = new_notebook(cells=[new_markdown_cell("# CTMAM: title\n\ntext"),
                             new_code_cell("epochs = 2", metadata={"tags": ["parameters"]}),
                             new_code_cell("epochs = 40", metadata={"tags": ["injected-parameters"]})])
    nbformat.write(nb, tmp_path / "in.ipynb")
    book._stage_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", "emodb (quick profile)")
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[0].source.startswith("# CTMAM on emodb (quick profile)")
    assert "remove-cell" in out.cells[1].metadata["tags"]
    assert "hide-input" in out.cells[2].metadata["tags"]


def test_benchmarks_page_is_staged_with_or_without_a_run(tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    page = book.stage_benchmarks(gen, ROOT, tmp_path / "results")
    assert "benchmarks.json` does not exist" in page.read_text() and "benchmarks/run" in page.read_text()
