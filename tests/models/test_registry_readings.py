"""Readings are written once, in each paper model's docstring, and every notebook renders them from there."""
import json

import pytest

from sercore import PAPERS, models
from sercore.paths import project_root


@pytest.mark.parametrize("paper", PAPERS)
def test_each_paper_model_has_a_readings_section_its_notebook_renders(paper):
    text = models.readings(paper)
    assert text.count("\n") >= 2 and "Readings" not in text.splitlines()[0]
    nb = json.loads((project_root() / "book" / f"{paper}.ipynb").read_text())
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(f'models.readings("{paper}")' in c for c in code), paper


def test_readings_section_ends_at_the_next_heading(tmp_path, monkeypatch):
    import types
    mod = types.ModuleType("sercore.models.fake")
    mod.__doc__ = "Title\n\nReadings\n--------\n- a\n- b\n\nShapes\n------\nx\n"
    monkeypatch.setitem(__import__("sys").modules, "sercore.models.fake", mod)
    monkeypatch.setattr(models, "_MODULES", (*models._MODULES, "fake"))
    assert models.readings("fake") == "- a\n- b"
    mod.__doc__ = "no section"
    with pytest.raises(ValueError, match="no 'Readings' section"):
        models.readings("fake")
    with pytest.raises(KeyError):
        models.readings("nope")
