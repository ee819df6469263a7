"""Feature-layer test setup: offline hub, an isolated feature cache."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# make the helper module featutil.py importable whatever pytest's import mode
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    """Point SERCORE_CACHE at a fresh folder; returns it."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SERCORE_CACHE", str(root))
    return root
