"""Runs: a run's parameters resolved in one place, one notebook executed, the book's run plan.

The parts, each its own module (every public name is here too, as ``sercore.runs.X``):

- :mod:`sercore.runs.params`: ``params/`` files read strictly and merged in layers, :func:`resolve`
  (the only function that reads ``params/``), ``--set`` values, the notebooks' parameters cells, and
  the book's run plan (:func:`plan_runs`);
- :mod:`sercore.runs.runkey`: a run's key, the digest of what it depends on, which decides whether a
  finished run is reused (:func:`run_key`, :func:`reusable`);
- :mod:`sercore.runs.staging`: one run per results folder (its lock), the disk checks before a run,
  publishing a finished staging folder in one step, and the clean-up after killed runs;
- :mod:`sercore.runs.execute`: one run, :func:`run_notebook`, executing ``book/PAPER.ipynb`` with
  papermill; only a run that finishes and writes a valid ``metrics.json`` replaces earlier results.

``python -m sercore.runs`` rewrites the notebooks' parameters cells (:func:`sync_parameters_cells`).
"""
from ..procs import lock_owner_alive, read_lock
from ..registry import paper_keys
from ..schemas import ParamsError
from .execute import reusable_run, run_folder, run_notebook, seed_dir
from .params import (BASE, MANIFEST, MAX_PARAMS_BYTES, MAX_SEED, RUN_KEY_SOURCES, SPECIAL, STUDIES, check_numbers,
                     datasets_with_params, notebook_defaults, notebook_params, parameters_cell, params_file,
                     parse_overrides, plan_runs, profiles, read_params_file, resolve, run_params, runnable,
                     study_chapter_params, sync_parameters_cells, validate_params)
from .runkey import (KEY_PACKAGES, KEY_PARTS, code_fingerprint, compute_key, corpus_fingerprint, key_changes,
                     records_fingerprint, records_read, reusable, run_key, write_run_key)
from .staging import (MIN_FREE_MB, RunLockedError, StorageError, check_storage, min_free_bytes, publish,
                      remove_dead_staging)


def __getattr__(name):
    """``PAPERS`` (the papers) and ``RUNNABLE`` (the names ``sercore run`` accepts: papers, then studies),
    derived from the declarations each time (:mod:`sercore.registry`)."""
    if name == "PAPERS":
        return paper_keys()
    if name == "RUNNABLE":
        return runnable()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
