"""The in-process engine (sercore.runs.inprocess, ``sercore run --in-process``): a notebook executed in this
process writes what a kernel writes (outputs of each kind, figures, the error that stops it), and no
notebook sees another's variables."""
import os

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

from sercore.runs.execute import _papermill


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)
    return path


def _kinds(cell) -> list:
    return [(o["output_type"], o.get("name") or sorted(o.get("data", {}))) for o in cell["outputs"]]


@pytest.fixture(autouse=True)
def _agg(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


def test_outputs_parameters_figures_and_working_folder(tmp_path):
    src = _notebook(tmp_path / "nb.ipynb",
                    "print('x is', x)",
                    "from IPython.display import Markdown, display\ndisplay(Markdown('**bold**'))",
                    "import pandas as pd\npd.DataFrame({'a': [x, 2]})",
                    "import matplotlib.pyplot as plt\nplt.plot([0, 1]);",
                    "import os\nos.getcwd()")
    out = tmp_path / "out.ipynb"
    work = tmp_path / "work"
    work.mkdir()
    _papermill(src, out, {"x": 7}, work, False, in_process=True)
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    # papermill injected the parameter after the tagged cell; the first output cell printed it
    assert "x = 7" in cells[1].source
    assert cells[2].outputs[0]["text"] == "x is 7\n"
    assert _kinds(cells[3]) == [("display_data", ["text/markdown", "text/plain"])]
    assert _kinds(cells[4]) == [("execute_result", ["text/html", "text/plain"])]
    assert "<table" in cells[4].outputs[0]["data"]["text/html"]
    assert cells[4].outputs[0]["execution_count"] == cells[4]["execution_count"] == 5
    assert _kinds(cells[5]) == [("display_data", ["image/png", "text/plain"])]     # shown and closed
    assert cells[6].outputs[0]["data"]["text/plain"] == repr(str(work))
    assert os.getcwd() != str(work)                     # the caller's working folder is back
    import matplotlib.pyplot as plt
    assert plt.get_fignums() == []


def test_an_error_stops_the_notebook_with_papermills_error(tmp_path):
    src = _notebook(tmp_path / "nb.ipynb", "y = 2", "raise ValueError('expected 3 channels, got 2')",
                    "print('never')")
    out = tmp_path / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as e:
        _papermill(src, out, {}, tmp_path, False, in_process=True)
    assert e.value.ename == "ValueError" and "expected 3 channels, got 2" in e.value.evalue
    cells = [c for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    err = cells[2].outputs[-1]
    assert err["output_type"] == "error" and err["ename"] == "ValueError"
    assert any("expected 3 channels" in line for line in err["traceback"])
    assert cells[3].outputs == [] and cells[3].metadata["papermill"]["status"] != "completed"


def test_no_notebook_sees_anothers_variables(tmp_path):
    _papermill(_notebook(tmp_path / "a.ipynb", "secret = 42"), tmp_path / "a-out.ipynb", {}, tmp_path, False,
               in_process=True)
    src = _notebook(tmp_path / "b.ipynb", "secret")
    with pytest.raises(PapermillExecutionError) as e:
        _papermill(src, tmp_path / "b-out.ipynb", {}, tmp_path, False, in_process=True)
    assert e.value.ename == "NameError"


def test_a_kernel_and_the_engine_write_the_same_kinds_of_output(tmp_path):
    """The same notebook through a fresh kernel and in process: every cell's outputs are of the same kinds."""
    sources = ("print('x is', x)", "from IPython.display import Markdown, display\ndisplay(Markdown('*a*'))",
               "import pandas as pd\npd.DataFrame({'a': [x]})", "import matplotlib.pyplot as plt\nplt.plot([0, 1]);")
    src = _notebook(tmp_path / "nb.ipynb", *sources)
    kinds = {}
    for in_process in (False, True):
        out = tmp_path / f"out-{in_process}.ipynb"
        env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}     # the kernel draws inline
        old = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        try:
            _papermill(src, out, {"x": 3}, tmp_path, False, in_process=in_process)
        finally:
            os.environ.clear()
            os.environ.update(old)
        kinds[in_process] = [_kinds(c) for c in nbformat.read(out, as_version=4).cells if c.cell_type == "code"]
    assert kinds[True] == kinds[False]


def _double(x):
    return 2 * x


def test_this_process_keeps_its_main_module_and_can_still_spawn(tmp_path):
    """The shell makes its namespace ``__main__`` while cells run; afterwards the process's own is back, so
    ``sercore book`` can still start spawned workers (its published pages) after running a page in process."""
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    before = (sys.modules["__main__"], sys.displayhook, sys.excepthook)
    _papermill(_notebook(tmp_path / "nb.ipynb", "y = x + 1"), tmp_path / "out.ipynb", {}, tmp_path, False,
               in_process=True)
    assert (sys.modules["__main__"], sys.displayhook, sys.excepthook) == before
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_double, 21).result(timeout=120) == 42
