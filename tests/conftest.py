"""Test-wide settings: results go to a temporary tree; real corpora come from SERCORE_DATA.

The feature cache and the generated synthetic corpus stay in the user cache
(``SERCORE_CACHE``, default ``~/.cache/sercore``): both are content-addressed and
deterministic, so sharing them between runs only saves time.
"""
import os
import tempfile
from pathlib import Path

import pytest

_RESULTS = tempfile.mkdtemp(prefix="sercore-test-results-")
os.environ["SERCORE_RESULTS"] = _RESULTS          # notebooks run by nbval inherit this
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def results_root() -> Path:
    return Path(_RESULTS)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real corpora (``SERCORE_DATA``, else ../shared/data); skips naming the path when absent."""
    p = Path(os.environ.get("SERCORE_DATA", ROOT.parent / "shared" / "data"))
    if not p.is_dir():
        pytest.skip(f"no real corpora at {p} (set SERCORE_DATA)")
    return p


#: a notebook cell that writes a valid metrics.json at once (WA 100 when ``epochs`` is odd, else 50);
#: ``{tweak}`` is a line run before writing (e.g. making a metric NaN)
TOY_METRICS_CELL = """
from sercore import results, runs
from sercore.metrics import classification_report
P = runs.notebook_params(globals())
rep = classification_report([0, 1], [0, epochs % 2], ["a", "b"])
{tweak}
class Toy:
    synthetic, note = True, None
    def record(self):
        return {{"name": "toy"}}
results.Run(P).write(results.ChapterResult({{"name": "random"}}, rep["metrics"], rep["per_class"],
                                           rep["confusion"]), corpus=Toy())
"""


def make_project(root: Path, *cells: str, dataset: str = "toy", **edits) -> Path:
    """A project at ``root`` for ``sercore.runs``: ``params/ctmam/<dataset>.yaml`` is the real
    ``synthetic.yaml`` with ``edits`` (``key=value`` at the top level, ``"section.key"`` in a profile's
    section) beside the real ``_base.yaml``, and ``book/ctmam.ipynb`` is the resolved parameters cell
    followed by ``cells``."""
    import nbformat
    import yaml

    from sercore import runs

    d = root / "params" / "ctmam"
    d.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((ROOT / "params" / "ctmam" / "synthetic.yaml").read_text())
    for k, v in edits.items():
        section, _, key = k.rpartition(".")
        (raw.setdefault(section, {}) if section else raw)[key] = v
    (d / f"{dataset}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    (d / "_base.yaml").write_text((ROOT / "params" / "ctmam" / "_base.yaml").read_text())
    if cells:
        (root / "book").mkdir(parents=True, exist_ok=True)
        nb = nbformat.v4.new_notebook()
        p = nbformat.v4.new_code_cell(runs.parameters_cell("ctmam"))
        p.metadata["tags"] = ["parameters"]
        nb.cells = [p, *(nbformat.v4.new_code_cell(c) for c in cells)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "book" / "ctmam.ipynb")
    return root


@pytest.fixture
def project():
    """:func:`make_project`, and the metrics cell as ``project.metrics_cell(tweak="")``."""
    make_project.metrics_cell = lambda tweak="": TOY_METRICS_CELL.format(tweak=tweak)
    return make_project


@pytest.fixture(scope="session")
def tiny_wav2vec2():
    """A builder: ``tiny_wav2vec2(folder, layers=10)`` saves a randomly initialised 32-dim wav2vec 2.0
    with layer-norm convolutions (seeded, no download) to ``folder`` and returns its path."""
    def make(folder, layers: int = 10) -> str:
        import torch
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        torch.manual_seed(0)
        cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                             intermediate_size=48, conv_dim=(16, 16, 16), conv_stride=(5, 2, 2),
                             conv_kernel=(10, 3, 3), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                             feat_extract_norm="layer", vocab_size=8)
        Wav2Vec2Model(cfg).save_pretrained(folder)
        return str(folder)
    return make


def pytest_xdist_make_scheduler(config, log):
    """`make test` runs the whole suite on two pytest-xdist workers with ``--dist loadscope``, scoped
    here as: every run-matrix cell on its own (each is a whole `sercore run`, spread one by one), every
    other test file and notebook whole on one worker (its module fixtures, e.g. the browser test's book
    build, are made once; a notebook's cells run in order in one kernel)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileOrMatrixCell(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return nodeid if "test_matrix.py::test_cell[" in nodeid else nodeid.split("::")[0]

    return FileOrMatrixCell(config, log)


#: the run matrix (tests/test_matrix.py) as it ran: cell -> (seconds, outcome); filled from the test
#: reports, so it works under pytest-xdist too (the Makefile runs the matrix on 2 workers)
_MATRIX: dict[str, tuple[float, str]] = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        for key, value in getattr(report, "user_properties", []):
            if key == "matrix_seconds":
                _MATRIX[report.nodeid.rpartition("[")[2].rstrip("]")] = (value, report.outcome)


def pytest_terminal_summary(terminalreporter):
    """Print the run matrix: cell, seconds, outcome."""
    if not _MATRIX:
        return
    terminalreporter.section("run matrix (paper/dataset/profile)")
    for cell, (sec, outcome) in sorted(_MATRIX.items()):
        terminalreporter.write_line(f"{cell:<48} {sec:8.1f} s  {outcome}")
    terminalreporter.write_line(f"{len(_MATRIX)} cells, {sum(v[0] for v in _MATRIX.values()):.0f} s of runs")


def fake_papermill(nb, out_nb, params, cwd, progress, in_process=False):
    """What a toy notebook (``TOY_METRICS_CELL``) does, without a kernel: its executed copy and a valid
    ``metrics.json`` through ``results.Run`` (WA 100 when ``epochs`` is odd, else 50)."""
    import shutil

    from sercore import results
    from sercore.metrics import classification_report

    class Toy:
        synthetic, note = True, None

        def record(self):
            return {"name": "toy"}

    shutil.copyfile(nb, out_nb)
    rep = classification_report([0, 1], [0, params["epochs"] % 2], ["a", "b"])
    P = {k: v for k, v in params.items() if k != "results_root"}
    results.Run(P).write(results.ChapterResult({"name": "random"}, rep["metrics"], rep["per_class"],
                                               rep["confusion"]), corpus=Toy())


@pytest.fixture
def fast_runs(monkeypatch):
    """``sercore.runs.run_notebook`` without a kernel (:func:`fake_papermill`) and with a fixed compute
    key: everything from the staging folder to the published results is the real code, in milliseconds."""
    from sercore import runs

    monkeypatch.setattr(runs.execute, "_papermill", fake_papermill)
    monkeypatch.setattr(runs.runkey, "compute_key", lambda workers=1: {"threads": 1, "cuda": False})
    return fake_papermill


@pytest.fixture
def at_project(monkeypatch):
    """``at_project(proj)``: ``sercore.runs`` reads ``params/`` and ``book/`` of the project ``proj``
    where it is given no root (as the command line does), as if it were the repository."""
    from sercore.runs import execute, params, runkey

    def use(proj: Path) -> Path:
        for module in (params, runkey, execute):
            monkeypatch.setattr(module, "project_root", lambda: proj)
        return proj
    return use
