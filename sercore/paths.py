"""Where sercore reads and writes on disk.

- data root: ``SERCORE_DATA`` (default ``./data``), one folder per corpus, read only;
- cache: ``SERCORE_CACHE`` (default ``~/.cache/sercore``): the generated synthetic
  corpus and the content-addressed feature cache;
- results: ``SERCORE_RESULTS`` (default ``./results``): one folder per (paper, dataset, profile).
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Root of everything sercore generates and may regenerate."""
    return Path(os.environ.get("SERCORE_CACHE", Path.home() / ".cache" / "sercore")).expanduser()


def results_dir() -> Path:
    """Root of the results tree ``results/PAPER/DATASET/PROFILE/``."""
    return Path(os.environ.get("SERCORE_RESULTS", "results")).expanduser()
