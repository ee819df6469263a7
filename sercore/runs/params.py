"""A run's parameters: ``params/`` files read strictly, merged in layers, validated; the notebooks'
parameters cells; the book's run plan.

``resolve(paper, dataset, profile)`` is the only function that reads ``params/``: it merges the
paper's ``_base.yaml`` (its recipe) with the dataset's file (or, for a manifest corpus, the paper's
``_manifest.yaml``), then the top level with the profile's section, validates the result against the
paper's schema (:mod:`sercore.schemas`) and returns the schema instance: typed, and a read-only
mapping of scalars and lists. The CLI, fanout, the leaderboard, the chapters' ``method()`` and the
notebooks all take it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..paths import project_root
from ..registry import paper_keys, study_keys
from ..schemas import ParamsError, schema, validate
from ..schemas.common import PROFILES, RUN_KEYS


#: notebooks of the book that are not papers, executed by ``sercore book``
SPECIAL = ("data", "scoreboard")
#: notebooks run per dataset like the papers' but about all of them (after the chapters in a book build),
#: from their declarations (sercore.registry)
STUDIES = study_keys()


def runnable() -> tuple[str, ...]:
    """The names ``sercore run`` accepts: the papers, then the studies (:mod:`sercore.registry`)."""
    return (*paper_keys(), *study_keys())


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
    if paper not in runnable():
        raise ParamsError(f"unknown paper {paper!r}; known: {', '.join(runnable())}")
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
    from ..data import manifest_corpus

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
    from ..schemas import describe

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
    for paper in runnable():
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



def study_chapter_params(paper: str, P: dict) -> tuple[dict, str]:
    """A chapter's resolved parameters as a study (the leaderboard) trains it: ``params/<paper>/<dataset>.yaml`` of the
    board's dataset (for a manifest corpus the chapter's ``_manifest.yaml``), or the chapter's
    ``synthetic.yaml`` when it has neither for this dataset, on the
    board's profile (its paper profile when the board's is ``reference`` and the chapter's file has none), with the board's seed, data root and shared ``epochs`` (when set: also the cap of
    the chapter's ``pretrain_epochs`` and ``ft_epochs``) on top. Returns the dict and the file it came from."""
    ds = P["dataset"]
    if ds not in datasets_with_params(paper):
        # a manifest corpus (the board has no file of its own for it) takes the chapter's _manifest.yaml
        generic = (ds not in datasets_with_params("leaderboard")
                   and (project_root() / "params" / paper / f"{MANIFEST}.yaml").exists())
        ds = ds if generic else "synthetic"
    over = {"seed": P["seed"], "data_root": P["data_root"], **({"epochs": P["epochs"]} if P["epochs"] else {})}
    # a board's reference run trains a chapter on its paper profile where the chapter's file has no reference
    # section (the board's shared epoch budget applies either way): reference is a publishing recipe of a
    # chapter's own cell, not a set of model sizes
    profile = P["profile"] if P["profile"] in profiles(paper, ds, data_root=P["data_root"]) else "paper"
    chapter = resolve(paper, ds, profile, over)
    if P["epochs"]:         # the shared budget caps every training stage (pre-training, fine-tuning) too
        over.update({k: min(int(chapter[k]), int(P["epochs"])) for k in ("pretrain_epochs", "ft_epochs")
                     if chapter.get(k)})
    if P.get("encoder") and chapter.get("encoder"):       # the board's own checkpoint for the chapters naming one
        over["encoder"] = P["encoder"]
    sets = chapter_sets(P, paper)                         # the board's PAPER.KEY=VALUE settings go last
    source = f"{_shown(params_file(paper, ds), None)} ({profile})"
    try:
        chapter = resolve(paper, ds, profile, {**over, **sets})
    except ParamsError as e:
        raise ParamsError(f"chapter_sets for {paper} ({', '.join(f'{k}={v}' for k, v in sets.items())}): {e}"
                          if sets else str(e)) from None
    if sets:
        source += "; the board sets " + ", ".join(f"{k}={json.dumps(v)}" for k, v in sets.items())
    return chapter, source


def chapter_sets(P, paper: str) -> dict:
    """The board's ``chapter_sets`` entries for ``paper`` (``["ca_ser.d_model=256"]`` -> ``{"d_model": 256}``),
    each value read as YAML; a key set twice is an error."""
    from ..schemas.leaderboard import chapter_set

    out: dict = {}
    for item in P.get("chapter_sets") or []:
        who, key, value = chapter_set(item)
        if who != paper:
            continue
        if key in out:
            raise ParamsError(f"chapter_sets: {paper}.{key} is set twice")
        out[key] = _load_yaml(value, f"chapter_sets {item}")
    return out


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


def run_params(paper: str, dataset: str, profile: str, seed: int, skip_bad: bool, overrides: dict | None,
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



def plan_runs(data_root: str | None = None, root: Path | None = None,
              synthetic: bool = False) -> list[tuple[str, str]]:
    """Every (paper, dataset) with a notebook, parameters (``in_book`` true), and every corpus it reads
    found (the main ``corpus`` and, for a multi-corpus run such as ``mdat/emodb_urdu``, each of ``corpora``).

    The synthetic corpus is always "found", but it stands in for real data: a paper (or study) runs on
    it only when none of its real corpora is found, unless ``synthetic`` is True (then it runs on both).
    With no corpus at all, every chapter runs on the synthetic corpus, as before."""
    from .. import data

    root = root or project_root()
    plan = []
    for paper in runnable():
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
