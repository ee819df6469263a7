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
