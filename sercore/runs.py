"""Runs: a run's parameters resolved in one place, one notebook executed, the book's run plan.

``resolve(paper, dataset, profile)`` is the only function that reads ``params/``: it merges the
paper's ``_base.yaml`` (its recipe) with the dataset's file (or, for a manifest corpus, the paper's
``_manifest.yaml``), then the top level with the profile's section, validates the result against the
paper's schema (:mod:`sercore.schemas`) and returns the schema instance: typed, and a read-only
mapping of scalars and lists. The CLI, fanout, the leaderboard, the chapters' ``method()`` and the
notebooks all take it.

``run_notebook`` executes ``book/PAPER.ipynb`` with papermill in a staging folder; only a run that
finishes and writes a valid ``metrics.json`` replaces earlier results, so a failing notebook never
destroys them.
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

from . import procs, runlog
from .paths import cache_dir, environ, project_root, results_dir, thread_env
from .registry import paper_keys, study_keys
from .schemas import ParamsError, schema, validate
from .schemas.common import PROFILES, RUN_KEYS

#: notebooks of the book that are not papers, executed by ``sercore book``
SPECIAL = ("data", "scoreboard")
#: notebooks run per dataset like the papers' but about all of them (after the chapters in a book build),
#: from their declarations (sercore.registry)
STUDIES = study_keys()


def _runnable() -> tuple[str, ...]:
    return (*paper_keys(), *study_keys())


def __getattr__(name):
    """``PAPERS`` (the papers) and ``RUNNABLE`` (the names ``sercore run`` accepts: papers, then studies),
    derived from the declarations each time (:mod:`sercore.registry`)."""
    if name == "PAPERS":
        return paper_keys()
    if name == "RUNNABLE":
        return _runnable()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


#: ``params/<paper>/_base.yaml``: the paper's recipe, merged before every dataset file of the paper
BASE = "_base"
#: ``params/<paper>/_manifest.yaml``: the parameters of every manifest corpus (a dataset with no file of its own)
MANIFEST = "_manifest"


def params_file(paper: str, dataset: str, root: Path | None = None) -> Path:
    """``params/<paper>/<dataset>.yaml``, or for a dataset with no file of its own the paper's generic
    ``params/<paper>/_manifest.yaml`` (a manifest corpus under the data root; :func:`resolve` checks that
    it is one). Names are checked against the registry, never taken as paths; ``_``-prefixed files are
    not datasets."""
    root = root or project_root()
    if paper not in _runnable():
        raise ParamsError(f"unknown paper {paper!r}; known: {', '.join(_runnable())}")
    if not _NAME.match(str(dataset)):
        raise ParamsError(f"dataset {dataset!r} is not a name (lower-case letters, digits and '_'); "
                          f"datasets with parameters for {paper}: {', '.join(datasets_with_params(paper, root))}")
    path = root / "params" / paper / f"{dataset}.yaml"
    if path.exists():
        return path
    generic = path.with_name(f"{MANIFEST}.yaml")
    if generic.exists():
        return generic
    raise ParamsError(f"no parameters at {_shown(path, root)}; datasets with parameters for {paper}: "
                      f"{', '.join(datasets_with_params(paper, root))}")


#: a params file holds plain scalars and lists: anything larger than this is not one
MAX_PARAMS_BYTES = 256 * 1024
#: how deeply lists and mappings may nest in a params file or a --set value
_MAX_DEPTH = 20


class _Refused(Exception):
    """A YAML construct params files do not take (raised inside the loader, with where it is)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem, self.mark = problem, mark


def _strict_loader():
    """A ``yaml.SafeLoader`` that refuses what params files must not hold: a key given twice in one
    mapping (YAML keeps the last one silently), anchors and aliases (``&a``/``*a``: a few lines could
    expand into gigabytes), and lists or mappings nested deeper than :data:`_MAX_DEPTH`."""
    import yaml

    class Strict(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                ev = self.peek_event()
                raise _Refused(f"the alias *{ev.anchor} (params files take no YAML anchors or aliases: "
                               "write each value out)", ev.start_mark)
            ev = self.peek_event()
            if getattr(ev, "anchor", None):
                raise _Refused(f"the anchor &{ev.anchor} (params files take no YAML anchors or aliases: "
                               "write each value out)", ev.start_mark)
            self._depth += 1
            try:
                if self._depth > _MAX_DEPTH:
                    raise _Refused(f"values nested more than {_MAX_DEPTH} levels deep", ev.start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

        def construct_mapping(self, node, deep=False):
            seen = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:          # an unhashable key: the base class says so
                    break
                if first is not None:
                    raise _Refused(f"key {key!r} is given twice (first at line {first.line + 1}); "
                                   "YAML would keep only the last one", key_node.start_mark)
                seen[key] = key_node.start_mark
            return super().construct_mapping(node, deep)

    return Strict


def _load_yaml(text: str, shown: str):
    """``text`` read by :func:`_strict_loader`; a ParamsError naming ``shown`` and the line otherwise."""
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())      # noqa: S506 - a SafeLoader subclass
    except _Refused as e:
        at = f" at line {e.mark.line + 1}, column {e.mark.column + 1}" if e.mark else ""
        raise ParamsError(f"{shown}: refused{at}: {e.problem}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ParamsError(f"{shown}: not valid YAML{at}: {getattr(e, 'problem', None) or e}") from None
    except RecursionError:
        raise ParamsError(f"{shown}: values nested too deeply to read") from None


def _params_home(path: Path) -> Path | None:
    """The ``params/`` folder ``path`` is written under (its nearest ancestor of that name), or None."""
    for parent in path.parents:
        if parent.name == "params":
            return parent
    return None


#: where a run key is set when it is not a params file's (a message may only name what exists)
RUN_KEY_SOURCES = {"paper": "the PAPER argument of `sercore run`",
                   "dataset": "`sercore run --dataset`", "profile": "`sercore run --profile`",
                   "seed": "`sercore run --seed`", "data_root": "`sercore run --data-root` or SERCORE_DATA",
                   "results_dir": "the SERCORE_RESULTS environment variable (results go to "
                                  "$SERCORE_RESULTS/PAPER/DATASET/PROFILE)",
                   "skip_bad": "`sercore run --skip-bad`"}


def read_params_file(path: Path, shown: str | None = None) -> dict:
    """The YAML mapping of a params file; a one-line ParamsError naming the file as ``shown`` (default:
    the path) for: a file that is not a regular file, one that is (a link to) a file outside the
    ``params/`` folder it is listed in, one larger than :data:`MAX_PARAMS_BYTES`, a YAML syntax error, a
    key given twice, YAML anchors or aliases, a non-mapping, a profile section that is not a mapping, or
    a key the run sets itself (``seed``, ``results_dir``, ...; the message names where it is set)."""
    import stat

    path = Path(path)
    shown = shown or str(path)
    home = _params_home(path)
    try:
        if home is not None and path.resolve().is_relative_to(home.resolve()) is False:
            raise ParamsError(f"{shown}: is a link to {path.resolve()}, outside {home}; a params file must be a "
                              f"file inside the params folder")
        st = path.stat()
    except OSError as e:
        raise ParamsError(f"{shown}: cannot read ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ParamsError(f"{shown}: not a regular file; a params file is a YAML file")
    if st.st_size > MAX_PARAMS_BYTES:
        raise ParamsError(f"{shown}: {st.st_size:,} bytes; a params file holds plain scalars and lists "
                          f"(at most {MAX_PARAMS_BYTES:,} bytes)")
    try:
        text = path.read_bytes()[:MAX_PARAMS_BYTES + 1].decode("utf-8")
    except OSError as e:
        raise ParamsError(f"{shown}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ParamsError(f"{shown}: not UTF-8 text (byte {e.start})") from None
    raw = _load_yaml(text, shown)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ParamsError(f"{shown}: expected a mapping of keys to values, got {type(raw).__name__}")
    for name in PROFILES:
        if name in raw and not isinstance(raw[name], (dict, type(None))):
            raise ParamsError(f"{shown}: key {name!r}: expected a mapping (the {name} profile's section), "
                              f"got {type(raw[name]).__name__}")
    for section, body in (("top level", raw), *((f"section {p!r}", raw.get(p) or {}) for p in PROFILES)):
        for key in RUN_KEYS:
            if key in body and not (body is raw and key in PROFILES):   # top-level `paper:` is the profile
                raise ParamsError(f"{shown}: key {key!r} ({section}): expected no value here (the run sets "
                                  f"{key}: {RUN_KEY_SOURCES.get(key, 'the command line')})")
    return raw


def _layers(paper: str, dataset: str, root: Path | None, data_root, skip_bad: bool = False) -> list[tuple[str, dict]]:
    """What :func:`resolve` merges, in order: ``(shown name, mapping)`` of ``params/<paper>/_base.yaml``
    (when the paper has one), for a manifest corpus the values its manifest decides (corpus, label map,
    protocol), and the dataset's own file (or ``_manifest.yaml``)."""
    path = params_file(paper, dataset, root)
    layers = []
    base = path.with_name(f"{BASE}.yaml")
    if base.exists():
        shown = _shown(base, root)
        layers.append((shown, read_params_file(base, shown)))
    if path.stem == MANIFEST:
        layers.append(_manifest_layer(paper, dataset, path, root, data_root, skip_bad))
    shown = _shown(path, root)
    layers.append((shown, read_params_file(path, shown)))
    return layers


def _manifest_layer(paper: str, dataset: str, path: Path, root: Path | None, data_root,
                    skip_bad: bool = False) -> tuple[str, dict]:
    """The values a manifest corpus decides for its runs (:func:`sercore.data.manifest_corpus.run_values`):
    a ParamsError naming both places when ``dataset`` is neither a params file nor a manifest corpus, and
    one naming the manifest's file, line and column when it is bad."""
    from .data import manifest_corpus

    try:
        shown, values = manifest_corpus.run_values(dataset, data_root, "skip" if skip_bad else "raise")
    except manifest_corpus.NotAManifestCorpus as e:
        raise ParamsError(f"no parameters at {_shown(path.with_name(dataset + '.yaml'), root)} and {e}; datasets "
                          f"with parameters for {paper}: {', '.join(datasets_with_params(paper, root))} "
                          f"(and any manifest corpus under the data root)") from None
    except (ValueError, OSError) as e:
        raise ParamsError(str(e).splitlines()[0]) from None
    return shown, values


def profiles(paper: str, dataset: str, root: Path | None = None, data_root=None) -> list[str]:
    """The profiles a (paper, dataset) has: smoke, quick and paper always, reference where its file (or
    the paper's ``_base.yaml``) has a ``reference:`` section."""
    layers = _layers(paper, dataset, root, data_root)
    return [p for p in PROFILES if p != "reference" or any(p in raw for _, raw in layers)]


def resolve(paper: str, dataset: str, profile: str, overrides: dict | None = None,
            root: Path | None = None):
    """The validated parameters of one run: an instance of the paper's schema (typed, ``P.epochs``),
    which is also a read-only mapping (``P["epochs"]``, ``P.get``, ``dict(P)``).

    Merged in order: ``params/<paper>/_base.yaml`` (the paper's recipe, when it has one), then
    ``params/<paper>/<dataset>.yaml``; a key of the dataset file replaces the base's, and each profile
    section is merged key by key. A dataset with no file of its own is a manifest corpus under the data
    root (``overrides['data_root']``, else ``SERCORE_DATA``): ``params/<paper>/_manifest.yaml`` with
    the corpus, label map and protocol its manifest decides. Then top-level values apply to every
    profile; the ``smoke``/``quick``/``paper``/``reference`` section overrides them; ``overrides``
    (run keys such as ``seed``, ``data_root``, ``results_dir``, or a user's ``--set KEY=VALUE``) go
    last. Every profile is validated, so a mistake in the ``paper:`` section is found on a quick run
    too. Raises :class:`ParamsError` (one line naming the file and the key) before any audio is read.
    """
    if profile not in PROFILES:
        raise ParamsError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    layers = _layers(paper, dataset, root, (overrides or {}).get("data_root"), bool((overrides or {}).get("skip_bad")))
    shown = layers[-1][0]
    own = layers[-1][1]
    cls = schema(paper)
    for file, raw in layers:
        for key in RUN_KEYS:
            for section, body in (("top level", raw), *((f"section {p!r}", raw.get(p) or {}) for p in PROFILES)):
                if key in body and not (body is raw and key in PROFILES):   # top-level `paper:` is the profile
                    raise ParamsError(f"{file}: key {key!r} ({section}): expected no value here (the run "
                                      f"sets {key}: `sercore run --{key.replace('_', '-')}` or papermill), got "
                                      f"{body[key]!r}")

    def merged(prof: str) -> tuple[dict, dict]:
        values, where = {}, {}
        for file, raw in layers:                        # top levels: later files replace earlier ones
            at = "" if file == shown else f"{file}, "
            for k, v in raw.items():
                if k not in PROFILES:
                    values[k], where[k] = v, f"{at}top level"
        for file, raw in layers:                        # then the profile's sections, key by key
            at = "" if file == shown else f"{file}, "
            for k, v in (raw.get(prof) or {}).items():
                values[k], where[k] = v, f"{at}section {prof!r}"
        values.update(paper=paper, dataset=dataset, profile=prof)
        return values, where

    has_reference = any("reference" in raw for _, raw in layers)
    if profile == "reference" and not has_reference:
        raise ParamsError(f"{shown}: no 'reference:' section: {paper} has no reference run on {dataset} "
                          f"(profiles with a section: {', '.join(p for p in PROFILES if p in own) or 'none'})")
    for other in PROFILES:              # a mistake in a section this run does not use is found now too
        if other != profile and (other != "reference" or has_reference):   # reference: only where written
            values, where = merged(other)
            validate(cls, values, source=shown, where=where)
    values, where = merged(profile)
    for k, v in (overrides or {}).items():
        values[k] = v
        where[k] = "override"
    return cls(**validate(cls, values, source=shown, where=where))


def validate_params(values: dict, source: str = "notebook parameters") -> dict:
    """Check parameters that arrived without :func:`resolve` (a notebook's globals, plain papermill)."""
    paper = values.get("paper")
    if paper in SPECIAL:
        return dict(values)
    return validate(schema(paper), values, source=source)


def notebook_params(namespace: dict) -> dict:
    """The parameters a notebook runs with, validated against its paper's schema.

    Call it right after the parameters cell: it takes every public global that is a scalar or a
    list of scalars (the defaults and papermill's injected values), so a misspelt ``-p`` key is an
    error here rather than a silently ignored variable.
    """
    simple = (bool, int, float, str, type(None))
    skip = {"In", "Out", "exit", "quit", "get_ipython"}
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in namespace.items()
              if not k.startswith("_") and k not in skip
              and (isinstance(v, simple) or (isinstance(v, (list, tuple)) and all(isinstance(i, simple) for i in v)))}
    return validate_params(values)


def datasets_with_params(paper: str, root: Path | None = None) -> list[str]:
    """The datasets with a params file of their own, ``params/<paper>/<dataset>.yaml`` (``_base.yaml``
    and ``_manifest.yaml`` are not datasets)."""
    root = root or project_root()
    return sorted(p.stem for p in (root / "params" / paper).glob("*.yaml") if not p.stem.startswith("_"))


def _shown(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root or project_root()))
    except ValueError:
        return str(path)


# ----------------------------------------------------------------------------- notebooks' parameters cells

def parameters_cell(paper: str, root: Path | None = None) -> str:
    """The parameters cell of ``book/<paper>.ipynb``: the smoke profile on the synthetic corpus,
    as :func:`resolve` gives it, one assignment per key with the schema's help as comment.

    A test asserts every notebook's cell equals this; ``python -m sercore.runs`` rewrites them.
    """
    from .schemas import describe

    values = resolve(paper, "synthetic", "smoke", root=root)
    helps = {r["key"]: r["help"] for r in describe(schema(paper))}
    lines = [f"# Parameters: papermill injects the resolved params/{paper}/<dataset>.yaml here.",
             "# These defaults are what `sercore.runs.resolve(paper, \"synthetic\", \"smoke\")` gives;",
             "# a test keeps them equal (`python -m sercore.runs` rewrites this cell)."]
    for k, v in values.items():
        lines.append(f"{k} = {v!r}".ljust(30) + f"  # {helps[k]}")
    return "\n".join(lines)


def notebook_defaults(nb_path: Path) -> dict:
    """The assignments of a notebook's ``parameters`` cell, evaluated as literals."""
    import ast
    import json

    nb = json.loads(Path(nb_path).read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            out = {}
            for node in ast.parse(src).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    out[node.targets[0].id] = ast.literal_eval(node.value)
            return out
    raise ValueError(f"{nb_path}: no cell tagged 'parameters'")


def sync_parameters_cells(root: Path | None = None) -> list[Path]:
    """Rewrite every paper notebook's parameters cell from :func:`parameters_cell`; returns those changed."""
    import json

    root = root or project_root()
    changed = []
    for paper in _runnable():
        path = root / "book" / f"{paper}.ipynb"
        nb = json.loads(path.read_text())
        for cell in nb["cells"]:
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                new = parameters_cell(paper, root)
                if "".join(cell["source"]) != new:
                    cell["source"] = [line + "\n" for line in new.split("\n")]
                    cell["source"][-1] = cell["source"][-1].rstrip("\n")
                    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
                    changed.append(path)
    return changed


# ----------------------------------------------------------------------------- one run

class RunLockedError(RuntimeError):
    """Another live process is writing the same results folder."""


class StorageError(RuntimeError):
    """The results folder cannot take a run's results (read-only, full, immutable); found before training."""


#: staging (``.NAME.running-OWNER``) and swap (``.NAME.old-OWNER``) folders; OWNER is PID or PID-START
_DEBRIS = re.compile(r"^\.(?P<name>.+)\.(?P<kind>running|old)-(?P<owner>\d+(?:-\d+)?)$")


def _pid_alive(pid: int) -> bool:
    from . import procs

    return procs.pid_alive(pid)


# the lock's owner: sercore.procs (runlog reads it too, without importing this module)
read_lock = procs.read_lock
lock_owner_alive = procs.lock_owner_alive
_young = procs._young


def _owner_alive(owner: str) -> bool:
    """Whether the process a debris folder's OWNER (``PID`` or ``PID-START``) names still runs; a bare
    pid that some process has is taken to run (nothing shows otherwise)."""
    from . import procs

    pid, start = procs.parse(owner)
    return procs.alive(pid, start) is not False


def _complete(folder: Path) -> bool:
    """Whether ``folder`` holds a finished run: a readable ``run_key.json`` (written last, before it is
    published), the notebook it names and, for a paper, a valid ``metrics.json``."""
    import json

    try:
        key = json.loads((folder / "run_key.json").read_text())
        paper = key["parts"]["params"]["paper"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if not isinstance(paper, str) or not (folder / f"{paper}.ipynb").is_file():
        return False
    if paper in SPECIAL:
        return True
    from .results import read_metrics
    try:
        read_metrics(folder / "metrics.json")
    except Exception:   # noqa: BLE001 - any damage: not a finished run
        return False
    return True


def remove_dead_staging(folder: Path, holding: Path | None = None) -> list[Path]:
    """Clean up after runs that were killed under ``folder``; returns the folders removed.

    Only folders of dead processes (:mod:`sercore.procs`: pid and start time) are touched, and never the
    last complete result of a cell:

    - ``.NAME.old-OWNER`` (the previous result, moved aside while a run put its own in place): when
      ``NAME`` is missing (the run was killed in between), it is moved back to ``NAME``; else removed;
    - ``.NAME.running-OWNER`` (a run's staging folder): when ``NAME`` is missing and no previous result
      was moved aside, a complete staging folder (:func:`_complete`: its ``run_key.json`` is written
      last) is published as ``NAME``; else removed.

    Moving a folder into place takes the cell's lock (``holding``: the results folder whose lock the
    caller holds already); a cell locked by a live run is left to that run.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    found = []
    for d in folder.rglob(".*"):
        m = _DEBRIS.match(d.name)
        if m and d.is_dir() and not d.is_symlink() and not _owner_alive(m["owner"]):
            found.append((0 if m["kind"] == "old" else 1, str(d), d, m))
    for _, _, d, m in sorted(found):
        final = d.with_name(m["name"])
        if not final.exists() and not final.is_symlink() and (m["kind"] == "old" or _complete(d)):
            _restore(d, final, holding)
            continue             # restored, or left as the only complete copy (its lock is held elsewhere)
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            removed.append(d)
    return removed


def _restore(src: Path, final: Path, holding: Path | None) -> bool:
    """Move the complete folder ``src`` to the missing results folder ``final`` under its lock; True
    when done. Leaves both alone when a live run holds the lock or ``final`` appeared meanwhile."""
    lock = None
    try:
        if holding is None or Path(holding) != final:
            lock = _lock(final)
        if final.exists():
            return False
        os.rename(src, final)
        print(f"restored {final} from {src.name} (a run was killed while putting its results in place)",
              file=sys.stderr, flush=True)
        return True
    except (RunLockedError, OSError):
        return False
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


def _lock(final: Path) -> Path:
    """Take ``.<name>.lock`` beside ``final`` (atomic create), holding this process's pid and start time;
    a lock whose owner no longer runs (:func:`lock_owner_alive`) is taken over. Raises
    :class:`RunLockedError` while a live run holds it."""
    from . import procs

    lock = final.with_name(f".{final.name}.lock")
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = read_lock(lock)
            if lock_owner_alive(lock) and not (owner and owner[0] == os.getpid()):
                pid = owner[0] if owner else "unknown"
                raise RunLockedError(f"another run (process {pid}) is writing {final}; wait for it to finish "
                                     f"or stop it (its lock: {lock})") from None
            lock.unlink(missing_ok=True)     # the process that held it is gone
            continue
        with os.fdopen(fd, "w") as f:
            pid, start = procs.me()
            f.write(f"{pid} {start}\n" if start is not None else f"{pid}\n")
        return lock
    raise RunLockedError(f"could not take the lock {lock} for {final}")


# ----------------------------------------------------------------------------- storage

#: free space a run needs on the results disk before it starts, in MiB (``SERCORE_MIN_FREE_MB`` overrides)
MIN_FREE_MB = 64
_IMMUTABLE_FLAGS = {0x10: "immutable", 0x20: "append-only"}     # FS_IMMUTABLE_FL, FS_APPEND_FL


def _fs_flags(path: Path) -> list[str]:
    """The inode flags of ``path`` that forbid replacing it (``chattr +i`` / ``+a``), where the filesystem
    tells them."""
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return []
    try:
        buf = fcntl.ioctl(fd, 0x80086601, struct.pack("l", 0))    # FS_IOC_GETFLAGS
        flags = struct.unpack("l", buf)[0]
    except (OSError, ValueError, struct.error):
        return []
    finally:
        os.close(fd)
    return [name for bit, name in _IMMUTABLE_FLAGS.items() if flags & bit]


def min_free_bytes() -> int:
    value = os.environ.get("SERCORE_MIN_FREE_MB")
    try:
        mb = float(value) if value not in (None, "") else MIN_FREE_MB
    except ValueError:
        raise StorageError(f"SERCORE_MIN_FREE_MB must be a number of MiB, got {value!r}") from None
    return int(max(0.0, mb) * 2**20)


def check_storage(final: Path, stage: Path) -> None:
    """Before a run trains: its staging folder takes a file, the disk has :func:`min_free_bytes` free,
    and an earlier results folder ``final`` can be replaced (not immutable or append-only, its parent
    writable: tried by moving it aside and back). Raises :class:`StorageError` naming the folder."""
    probe = stage / ".storage-probe"
    try:
        with open(probe, "wb") as f:
            f.write(b"\0" * 65536)
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
        raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e} "
                           "(nothing was run)") from None
    need = min_free_bytes()
    try:
        free = shutil.disk_usage(stage).free
    except OSError:
        free = None
    if free is not None and free < need:
        raise StorageError(f"only {free / 2**20:.1f} MiB free on the disk of {final.parent}; a run needs at least "
                           f"{need / 2**20:.0f} MiB there (free some space, or set SERCORE_MIN_FREE_MB) "
                           "(nothing was run)")
    if final.exists() or final.is_symlink():
        if final.is_symlink() or not final.is_dir():
            raise StorageError(f"{final} is not a folder (a {'link' if final.is_symlink() else 'file'}); "
                               "move it away: a run replaces its results folder (nothing was run)")
        for target in (final, final.parent):
            flags = _fs_flags(target)
            if flags:
                raise StorageError(f"{target} is {' and '.join(flags)} (chattr), so the results in {final} "
                                   "cannot be replaced; remove the flag (chattr -i / -a) or move the folder "
                                   "(nothing was run)")
        aside = final.with_name(f".{final.name}.old-{_owner()}")
        try:
            os.rename(final, aside)
        except OSError as e:
            raise StorageError(f"the results in {final} cannot be replaced: moving it fails ({e.strerror or e}) "
                               "(nothing was run)") from None
        os.rename(aside, final)      # a kill in between: remove_dead_staging moves it back


# ----------------------------------------------------------------------------- publishing
#
# A run writes everything into its staging folder ``.NAME.running-OWNER`` (the notebook, metrics.json,
# predictions, run.log, a checkpoint), then ``run_key.json`` last, and only then replaces ``NAME`` in one
# step: renameat2(RENAME_EXCHANGE) swaps the two folders atomically where the system has it (Linux 3.15+
# on local filesystems); elsewhere ``NAME`` is first moved aside to ``.NAME.old-OWNER``. Whatever instant
# the run is killed at, ``NAME`` holds a complete result (the previous or the new one) or, in the second
# case, is missing while ``.NAME.old-OWNER`` holds the previous one, which :func:`remove_dead_staging`
# moves back.

#: called with the name of each publishing step (tests set it to kill a run there)
_STEP_HOOK = None
#: False: never use renameat2's exchange (tests of the fallback)
_EXCHANGE = True


def _step(name: str) -> None:
    if _STEP_HOOK is not None:
        _STEP_HOOK(name)


def _owner() -> str:
    from . import procs

    return procs.token()


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (renameat2 RENAME_EXCHANGE); False when the system cannot."""
    if not _EXCHANGE or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), exchange) == 0:
        return True
    err = ctypes.get_errno()
    import errno
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk (best effort)."""
    for f in [*folder.rglob("*"), folder]:
        try:
            fd = os.open(f, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if f.is_dir() else 0))
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def publish(stage: Path, final: Path) -> Path:
    """Replace ``final`` by the complete folder ``stage`` in one step (see above); returns ``final``."""
    _fsync_tree(stage)
    _step("before-swap")
    if final.exists():
        if _exchange(stage, final):
            _step("after-exchange")
            shutil.rmtree(stage, ignore_errors=True)         # now the previous result
        else:
            old = final.with_name(f".{final.name}.old-{_owner()}")
            os.rename(final, old)
            _step("after-moving-old-aside")
            try:
                os.rename(stage, final)
            except OSError:
                os.rename(old, final)                        # the previous result back in place
                raise
            _step("after-moving-new-in")
            shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(stage, final)
    _step("after-swap")
    try:
        fd = os.open(final.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return final


def study_chapter_params(paper: str, P: dict) -> tuple[dict, str]:
    """A chapter's resolved parameters as a study (the leaderboard) trains it: ``params/<paper>/<dataset>.yaml`` of the
    board's dataset (for a manifest corpus the chapter's ``_manifest.yaml``), or the chapter's
    ``synthetic.yaml`` when it has neither for this dataset, on the
    board's profile, with the board's seed, data root and shared ``epochs`` (when set: also the cap of
    the chapter's ``pretrain_epochs`` and ``ft_epochs``) on top. Returns the dict and the file it came from."""
    ds = P["dataset"]
    if ds not in datasets_with_params(paper):
        # a manifest corpus (the board has no file of its own for it) takes the chapter's _manifest.yaml
        generic = (ds not in datasets_with_params("leaderboard")
                   and (project_root() / "params" / paper / f"{MANIFEST}.yaml").exists())
        ds = ds if generic else "synthetic"
    over = {"seed": P["seed"], "data_root": P["data_root"], **({"epochs": P["epochs"]} if P["epochs"] else {})}
    chapter = resolve(paper, ds, P["profile"], over)
    if P["epochs"]:         # the shared budget caps every training stage (pre-training, fine-tuning) too
        over.update({k: min(int(chapter[k]), int(P["epochs"])) for k in ("pretrain_epochs", "ft_epochs")
                     if chapter.get(k)})
    if P.get("encoder") and chapter.get("encoder"):       # the board's own checkpoint for the chapters naming one
        over["encoder"] = P["encoder"]
    chapter = resolve(paper, ds, P["profile"], over)
    return chapter, f"{_shown(params_file(paper, ds), None)} ({P['profile']})"


def parse_overrides(pairs: list[str]) -> dict:
    """``sercore run --set`` pairs: ``["epochs=1", "encoder=/tmp/w2v"]`` -> ``{"epochs": 1, "encoder": "/tmp/w2v"}``
    (values read as YAML, by the params files' strict reader: no anchors or aliases)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        shown = pair if len(pair) <= 80 else pair[:77] + "..."
        if not sep or not key.strip():
            raise ParamsError(f"--set {shown!r}: expected KEY=VALUE, e.g. --set epochs=1")
        key = key.strip()
        if key in RUN_KEYS:
            raise ParamsError(f"--set {shown!r}: {key} is not set with --set but by "
                              f"{RUN_KEY_SOURCES.get(key, 'the command line')}")
        if key in out:
            raise ParamsError(f"--set {shown!r}: {key} is set twice")
        out[key] = _load_yaml(value, f"--set {key}") if value.strip() else None
    return out


#: the largest seed a run takes: numpy's legacy generators and the kernels' seeding take 32 bits
MAX_SEED = 2**32 - 1
_INT64 = 2**63 - 1


def check_numbers(params: dict, source: str) -> dict:
    """Refuse numbers a run cannot represent, before any notebook starts: an integer beyond 64 bits
    (``--set epochs=99999999999999999999`` would overflow inside the kernel) or a seed beyond
    :data:`MAX_SEED`. ``source`` names where the parameters came from. Returns ``params``."""
    def bad(key, v, limit, what):
        shown = str(v) if len(str(v)) <= 30 else str(v)[:27] + "..."
        raise ParamsError(f"{source}: key {key!r}: expected {what} (at most {limit}), got {shown}")

    for key, value in params.items():
        for v in (value if isinstance(value, list) else [value]):
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) > _INT64:
                bad(key, v, _INT64, "an integer that fits in 64 bits")
    seed = params.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed <= MAX_SEED:
        bad("seed", seed, MAX_SEED, "a seed from 0")
    return params


def _run_params(paper: str, dataset: str, profile: str, seed: int, skip_bad: bool, overrides: dict | None,
                root: Path, data_root: str | None = None) -> dict:
    """A run's parameters (a plain dict: the run adds its folders): resolved and validated (``data_root``
    finds a manifest corpus), or the bare run keys of the data and scoreboard pages."""
    import operator

    try:
        if isinstance(seed, bool):
            raise TypeError
        seed = operator.index(seed)           # an int, or a numpy integer
    except TypeError:
        raise ParamsError(f"seed: expected an integer from 0 to {MAX_SEED}, got {seed!r}") from None
    if paper in SPECIAL:
        return check_numbers({"paper": paper, "dataset": dataset, "profile": profile, "seed": int(seed)},
                             f"{paper} run")
    params = dict(resolve(paper, dataset, profile, {**(overrides or {}), "seed": int(seed), "skip_bad": bool(skip_bad),
                                                    **({"data_root": data_root} if data_root else {})}, root))
    return check_numbers(params, f"params/{paper}/{dataset}.yaml ({profile}) with the run's settings")


def seed_dir(profile: str, seed: int) -> str:
    """Where a run of ``seed`` other than 0 goes under ``results/PAPER/DATASET/`` (``sercore run --seed S``
    and a fan-out's further seeds): ``seeds/PROFILE/seed-S``, its own folder with its own lock, so seeds
    never replace each other."""
    return f"seeds/{profile}/seed-{int(seed)}"


def run_folder(results_root: str | os.PathLike, paper: str, dataset: str, profile: str, seed: int = 0,
               run_dir: str | None = None) -> Path:
    """The results folder of a run: ``results/PAPER/DATASET/<run_dir>`` when given, else
    ``results/PAPER/DATASET/PROFILE`` for seed 0 (the book's run; always for the data chapter and the
    scoreboard) and ``results/PAPER/DATASET/seeds/PROFILE/seed-S`` for another seed."""
    if run_dir:
        sub = run_dir
    elif paper in SPECIAL or int(seed) == 0:
        sub = profile
    else:
        sub = seed_dir(profile, seed)
    return Path(results_root) / paper / dataset / sub


def run_notebook(paper: str, dataset: str, profile: str = "smoke", data_root: str | None = None,
                 seed: int = 0, results_root: str | os.PathLike | None = None,
                 root: Path | None = None, progress: bool = False, run_dir: str | None = None,
                 skip_bad: bool = False, workers: int = 1, overrides: dict | None = None,
                 reuse: bool = False) -> Path:
    """Execute one (paper, dataset, profile) notebook; return its results folder.

    Parameters are resolved (and validated) before anything is created, so bad parameters
    write nothing. Where the results go: :func:`run_folder` (seed 0: ``results/PAPER/DATASET/PROFILE``,
    the book's run; another seed: ``results/PAPER/DATASET/seeds/PROFILE/seed-S``); run_dir: another
    folder under ``results/PAPER/DATASET/`` (``sercore fanout`` puts a grid's first seed in PROFILE).
    skip_bad: unreadable or invalid corpus files are skipped, counted and reported, instead of
    stopping the run. overrides: parameters set after the profile (``sercore run --set KEY=VALUE``),
    validated like the file. workers: how many runs share this machine's CPUs now (``sercore fanout``); the
    kernel's torch/OpenMP/BLAS threads are its share (:func:`sercore.paths.thread_env`; a smaller
    ``OMP_NUM_THREADS`` of the caller is kept, a larger one cut to the share).

    One run at a time per results folder: a second one raises :class:`RunLockedError` while the
    first is alive. Folders left by killed runs are cleaned up first (:func:`remove_dead_staging`),
    and the disk is checked before anything runs (:func:`check_storage`, :class:`StorageError`).

    A finished run is never lost: the notebook writes into a staging folder, ``run_key.json``
    (:func:`run_key`) is written into it last, and the staging folder replaces the results folder in
    one step (:func:`publish`); a run killed at any instant leaves the previous or the new result.
    reuse: when the results folder already holds a finished run whose key equals this run's (same
    resolved parameters and seed, same corpus files, same package code, notebook and params file),
    nothing is executed and that folder is returned (:func:`reusable`).

    Raises ``ParamsError`` for bad parameters, ``CheckpointUnavailableError`` when a named Hugging
    Face checkpoint cannot be loaded here (both before anything is written), and ``RuntimeError`` naming
    the failed notebook (kept in ``<PROFILE>.failed/``) when execution fails or writes no valid
    metrics.json, or when its results cannot be put in place (the previous ones are then kept).
    """
    from .features.hub import check_checkpoints

    root = root or project_root()
    params = _run_params(paper, dataset, profile, seed, skip_bad, overrides, root, data_root)
    if paper not in SPECIAL:
        check_checkpoints(params, f"{paper}/{dataset}, profile {profile}")   # before anything is written
        if paper in STUDIES:            # the board trains the chapters with their own params files
            for method in params["methods"]:
                if method != "baselines":
                    chapter, source = study_chapter_params(method, {**params, "data_root": data_root})
                    check_checkpoints(chapter, f"{source}, trained by the leaderboard")
    nb = root / "book" / f"{paper}.ipynb"
    if not nb.exists():
        raise FileNotFoundError(f"no notebook {nb}")
    results_root = Path(results_root) if results_root else results_dir()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0":
        # a torchrun worker other than rank 0 (`torchrun --nproc_per_node=N sercore run ...`): its kernel
        # trains its share of each epoch (sercore.distributed); only rank 0's results are kept
        import tempfile
        results_root = Path(tempfile.mkdtemp(prefix=f"sercore-rank{os.environ['RANK']}-"))
    final = run_folder(results_root, paper, dataset, profile, seed, run_dir)
    stage = final.with_name(f".{final.name}.running-{_owner()}")
    failed = final.with_name(f"{final.name}.failed")
    key = run_key(paper, params, root, data_root, results_root, workers)
    if reuse and reusable(final, key) is not None:
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = _lock(final)
    except OSError as e:
        raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e}") from None
    try:
        remove_dead_staging(final.parent, holding=final)
        shutil.rmtree(stage, ignore_errors=True)
        try:
            stage.mkdir(parents=True)
        except OSError as e:
            raise StorageError(f"cannot write results under {final.parent}: {e.strerror or e}") from None
        try:
            check_storage(final, stage)
        except StorageError:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        return _execute(paper, dataset, profile, params, nb, root, results_root, data_root, stage, final,
                        failed, progress, workers, key)
    finally:
        lock.unlink(missing_ok=True)


def _papermill(nb: Path, out_nb: Path, params: dict, cwd: Path, progress: bool) -> None:
    """Execute ``nb`` into ``out_nb`` with papermill (tests replace this to publish without a kernel)."""
    import papermill as pm

    # --IPKernelApp.log_level=ERROR: the kernel's start-up warnings (e.g. "running over TCP without
    # encryption", about a local kernel only this process talks to) are not for users
    pm.execute_notebook(str(nb), str(out_nb), parameters=params, cwd=str(cwd), kernel_name="python3",
                        progress_bar=progress, log_output=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])


def _execute(paper, dataset, profile, params, nb, root, results_root, data_root, stage: Path, final: Path,
             failed: Path, progress: bool, workers: int, key: dict) -> Path:
    from .data import data_root as resolve_data_root
    from .paths import atomic_write
    from .results import read_metrics

    # the kernel runs in book/: every path a user typed (--data-root, a relative SERCORE_DATA, the
    # default ./data, a relative SERCORE_CACHE) is made absolute here, from the caller's directory
    data = resolve_data_root(data_root)
    params.update(results_dir=str(stage), data_root=str(data))
    if paper in SPECIAL:
        params["results_root"] = str(results_root)
    out_nb = stage / f"{paper}.ipynb"
    t0 = time.time()
    # the kernel inherits this environment: no progress widgets in results, this run's share of the
    # cores (see thread_env), and no non-inline backend (it would leave pages without figures)
    env = {"SERCORE_PROGRESS": "0", "MPLBACKEND": None, "SERCORE_DATA": str(data),
           "SERCORE_CACHE": str(cache_dir().resolve()), "SERCORE_RESULTS": str(Path(results_root).resolve())}
    env.update(thread_env(workers))     # its share of the cores; a user's smaller OMP_NUM_THREADS is kept
    # progress: the kernel's training loop appends to run.log beside the results; echoed to stderr
    env["SERCORE_RUN_LOG"] = str(stage / runlog.LOG_NAME)
    runlog.write_line(env["SERCORE_RUN_LOG"], f"{paper}/{dataset}/{profile} seed {params.get('seed', 0)}: "
                                              f"started (pid {os.getpid()}), writing {final}")

    def keep_failed(cause: str) -> Path:
        runlog.write_line(env["SERCORE_RUN_LOG"], f"failed after {time.time() - t0:.0f} s: {cause}")
        shutil.rmtree(failed, ignore_errors=True)
        try:
            stage.rename(failed)
            return failed
        except OSError:
            return stage

    try:
        with environ(**env), runlog.echo(env["SERCORE_RUN_LOG"], sys.stderr):
            _papermill(nb, out_nb, params, root / "book", progress)
        if paper not in SPECIAL:
            read_metrics(stage / "metrics.json")
        _step("after-notebook")
    except Exception as e:  # papermill's error carries the failing cell's traceback
        kept = keep_failed(_cause(e))
        raise RuntimeError(f"{paper} on {dataset} ({profile}) failed after {time.time() - t0:.0f} s: "
                           f"{_cause(e)}\nThe executed notebook is kept at "
                           f"{kept / (paper + '.ipynb')}; earlier results in {final} are untouched.") from e
    try:
        # the executed notebook should name where its results ended up, not the staging folder
        text = out_nb.read_text().replace(str(stage), str(final))
        atomic_write(out_nb, lambda t: t.write_text(text))
        _step("after-notebook-rewrite")
        runlog.write_line(env["SERCORE_RUN_LOG"], f"finished in {time.time() - t0:.0f} s")
        write_run_key(stage, key)          # last: a staging folder with its key is complete
        _step("after-run-key")
        publish(stage, final)
    except OSError as e:
        where = e.filename or stage
        kept = keep_failed(f"{type(e).__name__}: {e}") if stage.exists() else None
        raise RuntimeError(f"{paper} on {dataset} ({profile}) finished but its results could not be put in "
                           f"place: {where}: {e.strerror or e}. The earlier results in {final} are untouched"
                           + (f"; this run's are kept in {kept}." if kept else ".")) from None
    shutil.rmtree(failed, ignore_errors=True)
    _step("after-cleanup")
    return final


def _cause(e: Exception) -> str:
    """The error a person needs from a failed execution: for an error raised in a notebook cell,
    that cell's exception (``CorruptFileError: <file>: ...``) and its number, not papermill's wrapper
    and traceback."""
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename:
        cell = getattr(e, "exec_count", None)
        return f"{ename}: {evalue}" + (f" (in cell [{cell}])" if cell else "")
    return f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------- run keys (reuse)
#
# Why run-level keys rather than Jupyter Book's jupyter-cache: jupyter-cache keys a notebook on the source
# of its code cells (and its kernel). Our notebooks are thin -- the work is in ``sercore/`` and in the
# corpus files -- so an edited model, a fixed loader or a replaced wav file would leave the cached outputs
# in place, and papermill's injected-parameters cell only partly stands for the resolved parameters. A run
# key hashes exactly what a run depends on (resolved parameters and seed, corpus files, package code,
# notebook, params files, numeric package versions), and a run is the unit the book stages, the scoreboard
# reads and ``metrics.json`` records. Cell-level reuse inside a run is the feature cache's job.

#: what a run's key hashes; anything else in run_key.json is a record, not compared
KEY_PARTS = ("params", "corpus", "code", "inputs", "compute")
#: packages whose version changes numbers (their installed versions are part of the code hash)
KEY_PACKAGES = ("torch", "torchaudio", "numpy", "scipy", "scikit-learn", "transformers", "pandas")
_CORPUS_MEMO: dict[tuple[str, str], dict] = {}


def _sha256_files(files, base: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(base).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def code_fingerprint(paper: str, params: dict, root: Path | None = None) -> dict:
    """sha256 of the code a run executes: every ``sercore/**/*.py`` (the installed package's source),
    ``book/<paper>.ipynb``, the params files it reads (its own; the leaderboard reads every chapter's),
    and the installed versions of the numeric packages (:data:`KEY_PACKAGES`)."""
    from importlib import metadata

    root = root or project_root()
    pkg = Path(__file__).resolve().parent
    files = sorted(f for f in pkg.rglob("*.py") if "__pycache__" not in f.parts)
    nb = root / "book" / f"{paper}.ipynb"
    if paper in STUDIES:
        par = sorted((root / "params").rglob("*.yaml"))
    elif paper in SPECIAL:
        par = []
    else:
        par = [params_file(paper, params["dataset"], root)]
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"package": _sha256_files(files, pkg.parent), "notebook": _sha256_files([nb], root),
            "params_files": _sha256_files(par, root), "versions": versions}


def corpus_fingerprint(name: str, data_root: str | None = None) -> dict:
    """What a run read of a corpus: the relative path, size and sha256 of the contents of every file under
    its folder, hashed (a replaced file changes it, even one whose size and time were kept; moving the
    folder does not). Contents are read once and remembered by file state (:mod:`sercore.digests`), so a
    corpus read before costs a ``stat`` per file. The synthetic corpus is generated by the package's
    code, so the code hash covers it."""
    from . import data
    from .digests import file_digests

    if name == "synthetic":
        return {"name": name, "generated": "by sercore.data.synthetic (covered by the code hash)"}
    folder = data.corpus_dir(name, data_root)
    memo = (name, str(folder))
    if memo not in _CORPUS_MEMO:
        import hashlib

        h, n, size = hashlib.sha256(), 0, 0
        if folder.is_dir():
            files = [f for f in sorted(folder.rglob("*")) if f.is_file()]
            digests = file_digests(files)
            for f in files:
                st = f.stat()
                h.update(f"{f.relative_to(folder).as_posix()}\0{st.st_size}\0"
                         f"{digests[os.path.abspath(f)]}\n".encode())
                n, size = n + 1, size + st.st_size
        _CORPUS_MEMO[memo] = {"name": name, "files": n, "bytes": size, "sha256": h.hexdigest(),
                              "of": "file contents (sha256)"}
    return dict(_CORPUS_MEMO[memo])


def _corpora_of(params: dict) -> list[str]:
    """Every corpus a run's parameters name (``corpus``, ``corpora``, any value that is a corpus name)."""
    from .data import CORPORA

    names = []
    for v in params.values():
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, str) and item in CORPORA and item not in names:
                names.append(item)
    if params.get("corpus") and params["corpus"] not in names:      # a manifest corpus
        names.append(params["corpus"])
    return names


def _results_fingerprint(results_root: Path) -> str:
    """sha256 over every finished run's metrics.json under ``results_root`` and ``records/`` (what the
    scoreboard reads)."""
    roots = [Path(results_root), project_root() / "records"]
    files = []
    for r in roots:
        if r.is_dir():
            files += [(r, f) for f in sorted(r.rglob("metrics.json"))
                      if not any(part.startswith(".") or part.endswith(".failed") or part == "_fanout"
                                 for part in f.relative_to(r).parts)]
    import hashlib

    h = hashlib.sha256()
    for r, f in files:
        h.update(f"{r.name}/{f.relative_to(r).as_posix()}\0".encode() + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _git_record(root: Path) -> dict:
    """The commit and whether the files a run executes differ from it (a record, not part of the key)."""
    import subprocess

    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "sercore", "book", "params"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty_files": None}
    return {"sha": sha or None, "dirty_files": [line[3:] for line in dirty]}


def run_key(paper: str, params: dict, root: Path | None = None, data_root: str | None = None,
            results_root: str | os.PathLike | None = None, workers: int = 1) -> dict:
    """A run's key: ``{"key": sha256, "parts": {...}, "record": {...}}``.

    ``parts`` (compared): the resolved parameters with the seed (paths left out: where the data and
    results live does not change a number), the fingerprint of every corpus they name, the code hash
    (:func:`code_fingerprint`), for the data chapter / scoreboard their inputs (every corpus found
    / every finished run's metrics.json), and for a training run the compute it gets (:func:`compute_key`:
    the kernel's thread count and whether CUDA is there; floating-point sums are ordered differently
    with 1 and 2 threads, and a short training run on a small test set can end several points apart,
    so a run made with 2 threads is not reused for one asked with 1). ``record`` (not compared): the git commit and the files that
    differ from it. A dirty tree is keyed by content like a clean one, so its runs are reused exactly
    when the same content runs again; ``record.git.dirty_files`` says the commit alone does not
    reproduce them.
    """
    import hashlib
    import json

    from .data import available

    root = root or project_root()
    shown = {k: v for k, v in params.items() if k not in ("results_dir", "data_root", "results_root")}
    parts = {"params": shown, "corpus": [corpus_fingerprint(c, data_root) for c in _corpora_of(params)],
             "code": code_fingerprint(paper, params, root), "inputs": None,
             "compute": None if paper in SPECIAL else compute_key(workers)}
    if paper == "data":
        parts["inputs"] = [corpus_fingerprint(c, data_root) for c in available(data_root)]
    elif paper == "scoreboard":
        parts["inputs"] = _results_fingerprint(Path(results_root) if results_root else results_dir())
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return {"key": key, "parts": parts, "record": {"git": _git_record(root), "written": time.strftime("%Y-%m-%dT%H:%M:%S")}}


def compute_key(workers: int = 1) -> dict:
    """What of the machine a training run's numbers depend on: ``{"threads"}`` the kernel will get
    (:func:`sercore.paths.thread_env` for ``workers`` runs at once) and ``{"cuda"}`` (a GPU is used when
    there is one). Not the CPU model: the same code and thread count give the same numbers across the
    machines we have compared, and keying on hardware would make every published run stale."""
    import importlib.util

    cuda = False
    if importlib.util.find_spec("torch") is not None:
        import torch
        cuda = bool(torch.cuda.is_available())
    return {"threads": int(thread_env(workers)["OMP_NUM_THREADS"]), "cuda": cuda}


def write_run_key(folder: Path, key: dict) -> Path:
    """``<folder>/run_key.json`` (atomic)."""
    import json

    from .paths import atomic_write

    return atomic_write(Path(folder) / "run_key.json", lambda t: t.write_text(json.dumps(key, indent=1, default=str)))


def reusable(final: Path, key: dict) -> Path | None:
    """``final`` when it holds a finished run (its notebook, and for a paper a readable metrics.json)
    whose ``run_key.json`` has the same key; else None. What differs is in :func:`key_changes`."""
    import json

    try:
        old = json.loads((Path(final) / "run_key.json").read_text())
    except (OSError, ValueError):
        return None
    paper = key["parts"]["params"]["paper"]
    if not isinstance(old, dict) or old.get("key") != key["key"] or not (Path(final) / f"{paper}.ipynb").exists():
        return None
    if paper not in SPECIAL:
        from .results import read_metrics
        try:
            read_metrics(Path(final) / "metrics.json")
        except Exception:
            return None
    return Path(final)


def key_changes(final: Path, key: dict) -> list[str]:
    """The parts of ``key`` that differ from the run in ``final`` (``["no run_key.json"]`` when it has none)."""
    import json

    try:
        old = json.loads((Path(final) / "run_key.json").read_text())["parts"]
    except (OSError, ValueError, KeyError, TypeError):
        return ["no run_key.json"]
    new = json.loads(json.dumps(key["parts"], default=str))
    return [p for p in KEY_PARTS if old.get(p) != new.get(p)] or ([] if reusable(final, key) else ["unfinished"])


def reusable_run(paper: str, dataset: str, profile: str, data_root: str | None = None, seed: int = 0,
                 results_root: str | os.PathLike | None = None, root: Path | None = None,
                 run_dir: str | None = None, skip_bad: bool = False,
                 overrides: dict | None = None, workers: int = 1) -> tuple[Path | None, list[str]]:
    """Whether :func:`run_notebook` with these arguments and ``reuse=True`` would reuse a run:
    ``(its folder, [])``, or ``(None, the parts of the key that changed)``."""
    root = root or project_root()
    params = _run_params(paper, dataset, profile, seed, skip_bad, overrides, root, data_root)
    results_root = Path(results_root) if results_root else results_dir()
    final = run_folder(results_root, paper, dataset, profile, seed, run_dir)
    key = run_key(paper, params, root, data_root, results_root, workers)
    hit = reusable(final, key)
    return hit, ([] if hit else key_changes(final, key))


def plan_runs(data_root: str | None = None, root: Path | None = None,
              synthetic: bool = False) -> list[tuple[str, str]]:
    """Every (paper, dataset) with a notebook, parameters (``in_book`` true), and every corpus it reads
    found (the main ``corpus`` and, for a multi-corpus run such as ``mdat/emodb_urdu``, each of ``corpora``).

    The synthetic corpus is always "found", but it stands in for real data: a paper (or study) runs on
    it only when none of its real corpora is found, unless ``synthetic`` is True (then it runs on both).
    With no corpus at all, every chapter runs on the synthetic corpus, as before."""
    from . import data

    root = root or project_root()
    plan = []
    for paper in _runnable():
        if not (root / "book" / f"{paper}.ipynb").exists():
            continue
        mine = []
        for ds in datasets_with_params(paper, root):
            P = resolve(paper, ds, "quick", root=root)
            if not P.get("in_book", True):
                continue
            needed = {P["corpus"], *(spec.partition(":")[0] for spec in P.get("corpora") or [])}
            if all(data.is_available(c, data_root) for c in needed):
                mine.append((ds, P["corpus"] == "synthetic"))
        real = [ds for ds, synth in mine if not synth]
        plan += [(paper, ds) for ds, synth in mine if not synth or synthetic or not real]
    return plan


if __name__ == "__main__":
    for p in sync_parameters_cells():
        print(f"rewrote the parameters cell of {p}")
