"""Evaluation protocols of the five papers: seeded, checked and describable.

A protocol turns a manifest (:mod:`sercore.data.manifest`) into a list of
:class:`Fold` objects. Every fold holds three sorted ``int64`` arrays of **row
positions** (``manifest.iloc[...]``): ``train``, ``val`` (may be empty) and
``test``. The parts of one fold never share a row.

>>> folds = make_folds(manifest, "loso", seed=0)             # IEMOCAP 5 folds
>>> describe("loso", folds, seed=0)                            # -> metrics.json

Class labels for stratification and k-shot come from the ``y`` column when
:meth:`sercore.data.labels.LabelMap.apply` has added one, else from ``label``.
Every random choice is drawn from one ``numpy.random.Generator(seed)``: the same
manifest, options and seed give the same folds. Folds are built in a fixed order
(groups in natural order: session 2 before session 10) and ``max_folds=n`` keeps
the first ``n`` of them, so a short run is a prefix of the full one.

Readings chosen for the validation parts (each also in :data:`PROTOCOLS`):

* ``loso``: the test set is one whole session; by default validation is
  ``val_speakers`` whole speakers drawn (seeded) from the training sessions, so
  no speaker is in two parts (in IEMOCAP the validation speaker's dialogue
  partner stays in training: their session is in train and val, never in test).
  ``val="session"`` validates on one whole other session (no session in two
  parts at all); ``val="none"`` has no validation part.
* ``loso_speaker``: the test set is one speaker; validation is ``val_speakers``
  other whole speakers drawn at random (``val="speaker"``), or the test speaker's
  session partner(s) (``val="partner"``: IEMOCAP's common 10-fold reading, the
  other speaker of the held-out dialogue session), or nothing (``val="none"``).
* ``kfold_val``: k label-stratified parts; fold i tests on part i and validates
  on part i+1 (mod k).
* ``official``: validation is the corpus' ``dev`` split; when the corpus has no
  dev rows, or the split comes from ``test_sessions``, validation is carved from
  training: whole speakers (seeded) whose utterances come closest to
  ``val_fraction`` of the training part (``val="speaker"``, falling back to a
  stratified utterance share when training has fewer than two speakers, noted
  in the fold), or a stratified utterance share (``val="random"``), or nothing.
* ``random``: ``val_fraction`` is a share of the training part, stratified.
* ``cross_corpus``: validation is carved from the source like ``official``.
* ``kshot``: no validation part.

**Folds that are not a measurement.** :func:`make_folds` checks every fold it returns
(:func:`check_folds`): a test set must hold every class of the label map and at least
``min_test`` utterances (default 2 per class). By default (``unfit_folds="refuse"``) an unfit
fold raises :class:`UnfitFoldError` naming the corpus, the fold and its classes present vs
expected; ``unfit_folds="flag"`` keeps it with ``comparable=False`` and the reason, which
:func:`describe` records. A corpus whose speakers and labels are tied (:func:`confound`, e.g.
URDU) gives single-class leave-one-speaker-out folds; ``kfold_val`` (label-stratified) measures
emotion there.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

PARTS: tuple[str, ...] = ("train", "val", "test")

#: protocol name -> one sentence for the book
PROTOCOLS: dict[str, str] = {
    "loso": "Leave-one-session-out: each fold tests on one whole session (IEMOCAP's 5 folds) and "
            "validates on whole speakers drawn (seeded) from the other sessions, so no speaker is in "
            "two parts.",
    "loso_speaker": "Leave-one-speaker-out: each fold tests on one speaker (10 folds on IEMOCAP or "
                    "Emo-DB) and validates on another whole speaker drawn at random (or on the test "
                    "speaker's session partner).",
    "kfold_val": "Stratified k-fold with a separate validation fold: k label-stratified parts, fold i "
                 "tests on part i, validates on part i+1 and trains on the other k-2 (8/1/1 for k=10); "
                 "every class is in every test fold (val='none': plain stratified k-fold).",
    "official": "The corpus' fixed train/dev/test split; with test_sessions the listed sessions are "
                "the test set and validation is whole speakers drawn from the other sessions.",
    "random": "Random utterance split stratified by label (80/20 by default; stratify: false draws it "
              "without regard to the labels), optionally with a validation share of the training part; a "
              "speaker may be in every part.",
    "cross_corpus": "Cross-corpus: train and validate on the source corpus (validation: whole "
                    "speakers drawn at random), test on every utterance of the target corpus.",
    "kshot": "k-shot adaptation: k utterances per class of the target corpus, drawn at random, to "
             "adapt on; every other target utterance is the test set.",
}

#: the fold check every protocol applies (:func:`check_folds`): ``unfit_folds`` is ``"refuse"`` (an
#: unfit fold raises :class:`UnfitFoldError`) or ``"flag"`` (it runs, marked ``comparable=False`` with
#: the reason); ``min_test`` is the fewest test utterances a fold may have (None: 2 per class)
CHECK_DEFAULTS: dict = {"unfit_folds": "refuse", "min_test": None}

#: options each protocol takes, with their defaults (``seed`` and ``max_folds`` apply to all)
DEFAULTS: dict[str, dict] = {name: {**opts, **CHECK_DEFAULTS} for name, opts in {
    "loso": {"val": "speaker", "val_speakers": 1},
    "loso_speaker": {"val": "speaker", "val_speakers": 1},
    "kfold_val": {"k": 10, "val": "fold"},
    "official": {"test_sessions": None, "val_fraction": 0.1, "val": "speaker"},
    "random": {"test_fraction": 0.2, "val_fraction": 0.0, "stratify": True},
    "cross_corpus": {"source": None, "target": None, "by": "corpus", "val_fraction": 0.1,
                     "val": "speaker"},
    "kshot": {"k": None, "per_class": True, "repeats": 1},
}.items()}

_DEV_NAMES = {"dev": "val", "val": "val", "valid": "val", "validation": "val",
              "train": "train", "test": "test"}


@dataclass
class Fold:
    """One train/validation/test division of a manifest.

    name:     short, file-name-safe id (``session5``, ``speaker_Ses01F``, ``fold01``, ``official``)
    train, val, test: sorted ``int64`` row positions; ``val`` may be empty
    held_out: the groups that define the held-out parts, e.g.
              ``{"test": {"session": [5]}, "val": {"speaker": ["Ses02M"]}}``
    note:     a caveat about this fold (a fallback taken), empty when none
    comparable: False when :func:`check_folds` flagged the fold (its test set lacks classes of
              the label map, or is smaller than ``min_test``): its numbers are not a measurement
    reason:   why the fold is not comparable, empty when it is
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    held_out: dict = field(default_factory=dict)
    note: str = ""
    comparable: bool = True
    reason: str = ""

    def __post_init__(self):
        for part in PARTS:
            a = np.sort(np.asarray(getattr(self, part), dtype=np.int64).ravel())
            if len(a) > 1 and (np.diff(a) == 0).any():
                raise ValueError(f"fold {self.name!r}: part {part!r} repeats a row")
            setattr(self, part, a)
        for i, p in enumerate(PARTS):
            for q in PARTS[i + 1:]:
                both = np.intersect1d(getattr(self, p), getattr(self, q))
                if len(both):
                    raise ValueError(f"fold {self.name!r}: {len(both)} row(s) are in both {p!r} "
                                     f"and {q!r}, e.g. row {int(both[0])}")

    def sizes(self) -> dict:
        """``{"train": n, "val": n, "test": n}``."""
        return {p: int(len(getattr(self, p))) for p in PARTS}


# ----------------------------------------------------------------------------- public entry points

def make_folds(manifest: pd.DataFrame, protocol: str, *, seed: int = 0,
               max_folds: int | None = None, **options) -> list[Fold]:
    """Folds of ``protocol`` over ``manifest`` (see :data:`PROTOCOLS` and :data:`DEFAULTS`).

    ``max_folds=n`` keeps the first ``n`` folds (groups in natural order), the
    same folds a full run builds first. Every kept fold passes :func:`check_folds`
    (options ``unfit_folds`` and ``min_test``). Unknown protocols and options raise
    ``ValueError`` listing the known ones; a protocol that needs an empty
    manifest column (``session``, ``speaker``, ``split``) names it.
    """
    _check_protocol(protocol)
    unknown = sorted(set(options) - set(DEFAULTS[protocol]))
    if unknown:
        raise ValueError(f"protocol {protocol!r} has no option(s) {unknown}; its options are "
                         f"{sorted(DEFAULTS[protocol])} (plus seed and max_folds)")
    if len(manifest) == 0:
        raise ValueError(f"protocol {protocol!r}: the manifest has no rows")
    if max_folds is not None and (not _is_int(max_folds) or max_folds < 1):
        raise ValueError(f"max_folds must be a positive integer or None, got {max_folds!r}")
    opts = {**DEFAULTS[protocol], **options}
    check = {k: opts.pop(k) for k in CHECK_DEFAULTS}
    rng = np.random.default_rng(seed)
    folds = _BUILDERS[protocol](manifest, rng, **opts)
    folds = folds if max_folds is None else folds[:max_folds]
    return check_folds(manifest, folds, protocol=protocol, **check)


def describe(protocol: str, folds: Sequence[Fold], **options) -> dict:
    """A plain JSON-able description for ``metrics.json``.

    Pass the same ``seed`` and options given to :func:`make_folds`; defaults are
    filled in so the record shows the full setting.
    """
    _check_protocol(protocol)
    seed = options.pop("seed", None)
    max_folds = options.pop("max_folds", None)
    opts = {**DEFAULTS[protocol], **options}
    unfit = [f for f in folds if not f.comparable]
    return _jsonable({
        "name": protocol,
        "explanation": PROTOCOLS[protocol],
        "seed": seed,
        "options": opts,
        "max_folds": max_folds,
        "n_folds": len(folds),
        "comparable": not unfit,
        "not_comparable": [{"fold": f.name, "reason": f.reason} for f in unfit],
        "folds": [{"name": f.name, "sizes": f.sizes(), "held_out": f.held_out, "comparable": f.comparable,
                   **({"reason": f.reason} if f.reason else {}),
                   **({"note": f.note} if f.note else {})} for f in folds],
    })


class UnfitFoldError(ValueError):
    """A fold whose test set cannot measure emotion (missing classes, or too few utterances)."""


def expected_classes(manifest: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """``(classes, row_class)``: the classes every test set should hold, and each row's class name.

    With a ``y`` column and a known label map (``attrs['label_map']``) the classes are the map's, so
    a class the corpus lacks entirely counts as missing; otherwise they are the classes present in
    ``manifest`` (``y`` values, else ``label``).
    """
    lm = manifest.attrs.get("label_map")
    if lm and "y" in manifest.columns and manifest["y"].notna().all():
        from .data.labels import LABEL_MAPS
        if lm in LABEL_MAPS:
            classes = list(LABEL_MAPS[lm].classes)
            y = manifest["y"].to_numpy().astype(np.int64)
            if len(y) and (y.min() < 0 or y.max() >= len(classes)):
                raise ValueError(f"column 'y' holds {sorted(set(y.tolist()))}, outside label map {lm!r} "
                                 f"of {len(classes)} classes")
            return classes, np.array(classes, dtype=object)[y]
    names, codes = _class_codes(manifest)
    return [str(n) for n in names], np.array([str(n) for n in names], dtype=object)[codes]


def fold_problem(manifest: pd.DataFrame, fold: Fold, min_test: int | None = None) -> str:
    """Why ``fold``'s test set is not a measurement, or ``""`` when it is one: it must hold every
    class of :func:`expected_classes` and at least ``min_test`` utterances (None: 2 per class)."""
    classes, row_class = expected_classes(manifest)
    need = 2 * len(classes) if min_test is None else int(min_test)
    present = set(row_class[fold.test])
    missing = [c for c in classes if c not in present]
    problems = []
    if missing:
        lm = manifest.attrs.get("label_map")
        problems.append(f"its {len(fold.test)} test utterance(s) hold {len(classes) - len(missing)} of the "
                        f"{len(classes)} classes{f' of label map {lm!r}' if lm else ''} "
                        f"(present: {[c for c in classes if c in present]}; missing: {missing})")
    if len(fold.test) < need:
        problems.append(f"its test set has {len(fold.test)} utterance(s), fewer than min_test={need}")
    return "; ".join(problems)


def check_folds(manifest: pd.DataFrame, folds: Sequence[Fold], *, unfit_folds: str = "refuse",
                min_test: int | None = None, protocol: str | None = None) -> list[Fold]:
    """``folds``, each checked by :func:`fold_problem` (``docs/contracts.md``: a fold with fewer test classes than
    the label map is not a measurement).

    ``unfit_folds="refuse"`` raises :class:`UnfitFoldError` naming the corpus, the protocol, every
    unfit fold and its classes present vs expected; ``"flag"`` returns the folds with
    ``comparable=False`` and ``reason`` set on the unfit ones (``describe`` records them).
    """
    _choice(protocol or "check_folds", "unfit_folds", unfit_folds, ("refuse", "flag"))
    if min_test is not None and (not _is_int(min_test) or min_test < 1):
        raise ValueError(f"min_test must be a positive integer or None, got {min_test!r}")
    bad = []
    for f in folds:
        why = fold_problem(manifest, f, min_test)
        if why:
            bad.append((f, why))
    if bad and unfit_folds == "refuse":
        corpus = "+".join(map(str, _corpus_names(manifest))) or "the corpus"
        shown = "; ".join(f"fold {f.name!r}: {why}" for f, why in bad[:3])
        more = f" ... ({len(bad)} of {len(folds)} folds in all)" if len(bad) > 3 else ""
        raise UnfitFoldError(
            f"{corpus}: protocol {protocol!r} gives {len(bad)} of {len(folds)} fold(s) that are not a "
            f"measurement: {shown}{more}. Use a protocol that keeps every class in every test fold "
            "(protocol: kfold_val, label-stratified), or set unfit_folds: flag to run them marked not "
            "comparable")
    for f, why in bad:
        f.comparable, f.reason = False, why
    return list(folds)


def confound(manifest: pd.DataFrame, group: str = "speaker", label: str = "label") -> dict:
    """How strongly ``group`` (speaker) and ``label`` are tied in ``manifest``.

    Returns ``groups``, ``labels``, ``utterances``, ``single_label_groups`` (groups heard under one
    label only: a leave-one-``group``-out fold on them tests a single class), their ``share``, and
    Cramér's V of the ``group`` x ``label`` table (0: independent, 1: the group fixes the label;
    ``sqrt(chi2 / (n (min(r, c) - 1)))``, without bias correction, so it reads high on small
    samples). ``confounded`` is True when half the groups or more are heard under one label only:
    most leave-one-``group``-out test folds then hold a single class and the protocol measures
    speakers, not emotion (:func:`check_folds` refuses such folds whatever this says).
    """
    for col in (group, label):
        _require(manifest, col, "confound")
    ct = pd.crosstab(manifest[group].astype(str), manifest[label].astype(str)).to_numpy().astype(float)
    n, (r, c) = ct.sum(), ct.shape
    single = int(((ct > 0).sum(1) == 1).sum())
    v = None
    if min(r, c) > 1:
        expected = ct.sum(1, keepdims=True) * ct.sum(0, keepdims=True) / n
        chi2 = float((((ct - expected) ** 2) / expected).sum())
        v = math.sqrt(chi2 / (n * (min(r, c) - 1)))
    share = single / r if r else 0.0
    return {"groups": int(r), "labels": int(c), "utterances": int(n), "single_label_groups": single,
            "share": share, "cramers_v": v, "confounded": bool(share >= 0.5)}


def confound_table(manifests: dict, group: str = "speaker") -> pd.DataFrame:
    """:func:`confound` for every manifest of ``{corpus: manifest}``, one row each (for the data
    chapter): speakers, labels, speakers under one label only (and their share), Cramér's V, and the
    protocol that measures emotion on it."""
    rows = []
    for name, m in manifests.items():
        if group not in m.columns or m[group].isna().all():
            rows.append({"corpus": name, "protocol that measures emotion": f"(no {group} column)"})
            continue
        c = confound(m, group)
        rows.append({"corpus": name, f"{group}s": c["groups"], "labels": c["labels"],
                     f"{group}s under one label only": c["single_label_groups"],
                     "share (%)": round(100 * c["share"], 1),
                     "Cramér's V": None if c["cramers_v"] is None else round(c["cramers_v"], 3),
                     "protocol that measures emotion": "stratified k-fold (kfold_val): speaker and label are tied"
                     if c["confounded"] else f"leave-one-{group}-out or official splits"})
    return pd.DataFrame(rows).set_index("corpus")


def cross_corpus_split(source: pd.DataFrame, target: pd.DataFrame, *, val_fraction: float = 0.1,
                       seed: int = 0, val: str = "speaker") -> tuple[pd.DataFrame, Fold]:
    """``(combined, fold)``: train/val from ``source``, test = all of ``target``.

    ``combined = pandas.concat([source, target], ignore_index=True)``: rows
    ``0 .. len(source)-1`` are the source, the rest the target, and the fold's
    indices point into it. Both manifests must already use one label map; the
    target may not hold a class the source lacks.
    """
    if "y" in source.columns or "y" in target.columns:
        if not ("y" in source.columns and "y" in target.columns):
            raise ValueError("cross_corpus: only one of the two manifests has a 'y' column; apply "
                             "the same LabelMap to both")
        a, b = source.attrs.get("label_map"), target.attrs.get("label_map")
        if a and b and a != b:
            raise ValueError(f"cross_corpus: source uses label map {a!r}, target {b!r}; "
                             "apply one shared map (e.g. 'ser4') to both")
    combined = pd.concat([source, target], ignore_index=True)
    combined.attrs = {"label_map": source.attrs.get("label_map"),
                      "cross_corpus": {"source": _corpus_names(source),
                                       "target": _corpus_names(target),
                                       "n_source": int(len(source)),
                                       "n_target": int(len(target))}}
    n = len(source)
    fold = _cross_fold(combined, np.arange(n), np.arange(n, len(combined)),
                       np.random.default_rng(seed), val_fraction=val_fraction, val=val,
                       src_names=_corpus_names(source), tgt_names=_corpus_names(target), by="corpus")
    return combined, fold


def make_cross_corpus(source: pd.DataFrame, target: pd.DataFrame, *, val_fraction: float = 0.1,
                      seed: int = 0, val: str = "speaker") -> Fold:
    """The cross-corpus fold of :func:`cross_corpus_split`; its indices point into
    ``pandas.concat([source, target], ignore_index=True)``."""
    return cross_corpus_split(source, target, val_fraction=val_fraction, seed=seed, val=val)[1]


def make_kshot(target: pd.DataFrame, k: int, *, seed: int = 0, per_class: bool = True) -> Fold:
    """k-shot adaptation fold over ``target`` alone.

    train = ``k`` utterances of every class (``per_class=True``; a class with
    fewer than ``k + 1`` utterances raises ``ValueError``) or ``k`` in all
    (``per_class=False``), drawn at random; test = every other utterance;
    val is empty. ``k=0`` gives an empty train part.
    """
    return _kshot_fold(target, np.random.default_rng(seed), k, per_class, name=f"{k}shot")


def subsample(manifest: pd.DataFrame, n_per_class: int, seed: int = 0) -> pd.DataFrame:
    """At most ``n_per_class`` utterances of every class, for smoke runs.

    Within a class, utterances are taken one per (speaker, session) group in
    turn, and the turn carries on from class to class, so every group keeps at
    least one utterance whenever ``n_per_class x classes`` reaches the number of
    groups and each group has the classes. Rows keep their order; the index is
    reset; ``attrs['subsample']`` records the call.
    """
    if not _is_int(n_per_class) or n_per_class < 1:
        raise ValueError(f"subsample: n_per_class must be a positive integer, got {n_per_class!r}")
    rng = np.random.default_rng(seed)
    names, codes = _class_codes(manifest)
    sess = manifest["session"].to_numpy() if "session" in manifest.columns else None
    keys = [f"{s}|{'' if sess is None or _empty(sess[i]) else sess[i]}"
            for i, s in enumerate(manifest["speaker"].to_numpy())]
    groups, gcodes = _codes(keys)
    order = rng.permutation(len(groups))
    chosen: list[int] = []
    turn = 0
    for c in range(len(names)):
        pools = {}
        for g in order:
            rows = np.flatnonzero((codes == c) & (gcodes == g))
            if len(rows):
                pools[g] = list(rng.permutation(rows))
        left, taken = sum(len(p) for p in pools.values()), 0
        while taken < n_per_class and left:
            g = order[turn % len(order)]
            turn += 1
            if pools.get(g):
                chosen.append(int(pools[g].pop()))
                taken, left = taken + 1, left - 1
    out = manifest.iloc[sorted(chosen)].reset_index(drop=True)
    out.attrs = dict(manifest.attrs)
    out.attrs["subsample"] = {"n_per_class": int(n_per_class), "seed": int(seed),
                              "from_rows": int(len(manifest))}
    return out


# ----------------------------------------------------------------------------- protocols

def _loso(df, rng, *, val, val_speakers):
    _require(df, "session", "loso")
    _require(df, "speaker", "loso")
    _choice("loso", "val", val, ("speaker", "session", "none"))
    _check_nested(df, "loso")
    sess, spk = df["session"].to_numpy(), df["speaker"].to_numpy()
    sessions, scodes = _codes(sess)
    need = 3 if val == "session" else 2
    if len(sessions) < need:
        raise ValueError(f"protocol 'loso' with val={val!r} needs at least {need} sessions; the "
                         f"manifest has {len(sessions)}: {sessions}")
    folds = []
    for i, s in enumerate(sessions):
        test = np.flatnonzero(scodes == i)
        pool = np.flatnonzero(scodes != i)
        held = {"test": {"session": [s]}}
        val_idx = np.empty(0, np.int64)
        if val == "speaker":
            val_idx, chosen = _draw_groups(spk, pool, val_speakers, rng, "loso", "speakers")
            held["val"] = {"speaker": chosen}
        elif val == "session":
            others = [j for j in range(len(sessions)) if j != i]
            j = others[int(rng.integers(len(others)))]
            val_idx = np.flatnonzero(scodes == j)
            held["val"] = {"session": [sessions[j]]}
        train = np.setdiff1d(pool, val_idx)
        folds.append(Fold(_name("session", s), train, val_idx, test, held))
    return folds


def _loso_speaker(df, rng, *, val, val_speakers):
    _require(df, "speaker", "loso_speaker")
    _choice("loso_speaker", "val", val, ("speaker", "partner", "none"))
    spk = df["speaker"].to_numpy()
    speakers, kcodes = _codes(spk)
    if val == "partner":
        _require(df, "session", "loso_speaker (val='partner')")
        sess = df["session"].to_numpy()
    if len(speakers) < (3 if val == "speaker" else 2):
        raise ValueError(f"protocol 'loso_speaker' with val={val!r} needs more speakers; the "
                         f"manifest has {len(speakers)}: {speakers}")
    folds = []
    for i, p in enumerate(speakers):
        test = np.flatnonzero(kcodes == i)
        pool = np.flatnonzero(kcodes != i)
        held = {"test": {"speaker": [p]}}
        val_idx = np.empty(0, np.int64)
        if val == "speaker":
            val_idx, chosen = _draw_groups(spk, pool, val_speakers, rng, "loso_speaker", "speakers")
            held["val"] = {"speaker": chosen}
        elif val == "partner":
            own = list(dict.fromkeys(sess[test]))
            val_idx = pool[pd.Series(sess[pool]).isin(own).to_numpy()]
            if not len(val_idx):
                raise ValueError(f"protocol 'loso_speaker' with val='partner': speaker {p!r} has no "
                                 f"other speaker in session(s) {sorted(map(str, own))}")
            if len(val_idx) == len(pool):
                raise ValueError(f"protocol 'loso_speaker' with val='partner': every other speaker "
                                 f"shares a session with {p!r}; nothing would be left to train on")
            held["val"] = {"speaker": _codes(spk[val_idx])[0]}
        train = np.setdiff1d(pool, val_idx)
        folds.append(Fold(_name("speaker", p), train, val_idx, test, held))
    return folds


def _kfold_val(df, rng, *, k, val):
    _choice("kfold_val", "val", val, ("fold", "none"))
    low = 3 if val == "fold" else 2
    if not _is_int(k) or k < low:
        raise ValueError(f"protocol 'kfold_val' with val={val!r} needs an integer k >= {low}, got {k!r}")
    if len(df) < k:
        raise ValueError(f"protocol 'kfold_val' with k={k} needs at least {k} rows; the manifest "
                         f"has {len(df)}")
    _, codes = _class_codes(df)
    parts = _stratified_parts(np.arange(len(df)), codes, k, rng)
    folds = []
    for i in range(k):
        test = parts[i]
        held = {"test": {"part": [i + 1]}}
        val_idx = np.empty(0, np.int64)
        if val == "fold":
            val_idx = parts[(i + 1) % k]
            held["val"] = {"part": [(i + 1) % k + 1]}
        train = np.setdiff1d(np.arange(len(df)), np.concatenate([test, val_idx]))
        folds.append(Fold(f"fold{i + 1:02d}", train, val_idx, test, held))
    return folds


def _official(df, rng, *, test_sessions, val_fraction, val):
    _choice("official", "val", val, ("speaker", "random", "none"))
    _fraction("official", "val_fraction", val_fraction, allow_zero=True)
    _, codes = _class_codes(df)
    if test_sessions is not None:
        _require(df, "session", "official (test_sessions)")
        sess = df["session"].to_numpy()
        wanted = _match_sessions(sess, test_sessions)
        is_test = pd.Series(sess).isin(wanted).to_numpy()
        test, pool = np.flatnonzero(is_test), np.flatnonzero(~is_test)
        if not len(pool):
            raise ValueError(f"protocol 'official': test_sessions={test_sessions!r} covers every "
                             "session; nothing is left to train on")
        train, val_idx, held_val, note = _carve(df, pool, codes, val_fraction, val, rng)
        shared = sorted(map(str, set(df["speaker"].to_numpy()[test])
                        & set(df["speaker"].to_numpy()[pool])))
        if shared:
            note = "; ".join(filter(None, [note, f"speakers in both test and training sessions: "
                                                 f"{shared[:5]}"]))
        held = {"test": {"session": wanted}, **({"val": held_val} if held_val else {})}
        return [Fold("official", train, val_idx, test, held, note)]

    if "split" not in df.columns or df["split"].isna().all():
        raise ValueError("protocol 'official' needs the manifest column 'split' (train/dev/test), "
                         "but it is empty; for a corpus without official splits pass "
                         "test_sessions=[5] (IEMOCAP: sessions 1-4 vs 5)")
    _require(df, "split", "official")
    raw = df["split"].map(lambda v: str(v).strip().lower()).to_numpy()
    unknown = sorted(set(raw) - set(_DEV_NAMES))
    if unknown:
        raise ValueError(f"protocol 'official': split column holds {unknown}; expected "
                         f"{sorted(_DEV_NAMES)}")
    part = np.array([_DEV_NAMES[v] for v in raw])
    train, val_idx, test = (np.flatnonzero(part == p) for p in PARTS)
    for p, rows in (("train", train), ("test", test)):
        if not len(rows):
            raise ValueError(f"protocol 'official': the split column has no {p!r} rows")
    held, note = {"test": {"split": ["test"]}}, ""
    if len(val_idx):
        held["val"] = {"split": sorted({str(v) for v in df["split"].to_numpy()[val_idx]})}
    else:
        train, val_idx, held_val, note = _carve(df, train, codes, val_fraction, val, rng)
        note = "; ".join(filter(None, ["no dev split: validation carved from train"
                                       if len(val_idx) else "", note]))
        if held_val:
            held["val"] = held_val
    return [Fold("official", train, val_idx, test, held, note)]


def _random(df, rng, *, test_fraction, val_fraction, stratify=True):
    _fraction("random", "test_fraction", test_fraction)
    _fraction("random", "val_fraction", val_fraction, allow_zero=True)
    if not isinstance(stratify, (bool, np.bool_)):
        raise ValueError(f"protocol 'random': stratify must be true or false, got {stratify!r}")
    _, codes = _class_codes(df)
    if not stratify:                       # one class for everything: a plain random draw of the share
        codes = np.zeros(len(df), dtype=np.int64)
    pool, test = _stratified_take(np.arange(len(df)), codes, test_fraction, rng)
    train, val_idx = _stratified_take(pool, codes, val_fraction, rng)
    return [Fold("random", train, val_idx, test, {}, "" if stratify else "not stratified by class")]


def _cross_corpus(df, rng, *, source, target, by, val_fraction, val):
    if source is None or target is None:
        raise ValueError("protocol 'cross_corpus' needs source= and target= (values of the "
                         f"{by!r} column), or use make_cross_corpus(source_df, target_df)")
    _require(df, by, "cross_corpus")
    col = df[by].to_numpy()
    src_names, tgt_names = _as_list(source), _as_list(target)
    both = set(map(str, src_names)) & set(map(str, tgt_names))
    if both:
        raise ValueError(f"protocol 'cross_corpus': {sorted(both)} is both source and target")
    present = _codes(col)[0]
    for role, names in (("source", src_names), ("target", tgt_names)):
        missing = [n for n in names if n not in present]
        if missing:
            raise ValueError(f"protocol 'cross_corpus': {role} {missing} not found in column "
                             f"{by!r}; it holds {present}")
    src = np.flatnonzero(pd.Series(col).isin(src_names).to_numpy())
    tgt = np.flatnonzero(pd.Series(col).isin(tgt_names).to_numpy())
    return [_cross_fold(df, src, tgt, rng, val_fraction=val_fraction, val=val,
                        src_names=src_names, tgt_names=tgt_names, by=by)]


def _cross_fold(df, src, tgt, rng, *, val_fraction, val, src_names, tgt_names, by):
    _choice("cross_corpus", "val", val, ("speaker", "random", "none"))
    _fraction("cross_corpus", "val_fraction", val_fraction, allow_zero=True)
    if not len(src) or not len(tgt):
        raise ValueError("protocol 'cross_corpus': the source and the target both need rows "
                         f"(source {len(src)}, target {len(tgt)})")
    names, codes = _class_codes(df)
    extra = sorted(set(codes[tgt]) - set(codes[src]))
    if extra:
        raise ValueError(f"protocol 'cross_corpus': the target holds classes the source lacks: "
                         f"{[names[c] for c in extra]}; map both to one shared label map")
    train, val_idx, held_val, note = _carve(df, src, codes, val_fraction, val, rng)
    held = {"train": {by: src_names}, "test": {by: tgt_names}, **({"val": held_val} if held_val else {})}
    name = _safe("+".join(map(str, src_names)) + "_to_" + "+".join(map(str, tgt_names)))
    return Fold(name, train, val_idx, tgt, held, note)


def _kshot(df, rng, *, k, per_class, repeats):
    if k is None:
        raise ValueError("protocol 'kshot' needs option k (utterances per class to adapt on)")
    if not _is_int(repeats) or repeats < 1:
        raise ValueError(f"protocol 'kshot': repeats must be a positive integer, got {repeats!r}")
    return [_kshot_fold(df, rng, k, per_class,
                        name=f"{k}shot" if repeats == 1 else f"{k}shot_r{r + 1:02d}")
            for r in range(repeats)]


def _kshot_fold(df, rng, k, per_class, name):
    if not _is_int(k) or k < 0:
        raise ValueError(f"protocol 'kshot': k must be a non-negative integer, got {k!r}")
    names, codes = _class_codes(df)
    if per_class:
        counts = np.bincount(codes, minlength=len(names))
        small = [f"{names[c]!s} has {int(counts[c])}" for c in range(len(names)) if counts[c] < k + 1]
        if small:
            raise ValueError(f"protocol 'kshot' with k={k} per class needs at least {k + 1} "
                             f"utterances of every class ({k} to adapt on, 1+ to test); too few: "
                             + ", ".join(small))
        train = np.concatenate([rng.permutation(np.flatnonzero(codes == c))[:k]
                                for c in range(len(names))] or [np.empty(0, np.int64)])
    else:
        if k >= len(df):
            raise ValueError(f"protocol 'kshot' with k={k} in all needs more than {k} utterances; "
                             f"the target has {len(df)}")
        train = rng.choice(len(df), size=k, replace=False)
    test = np.setdiff1d(np.arange(len(df)), train)
    return Fold(name, train, np.empty(0, np.int64), test,
                {"train": {"shots": int(k), "per_class": bool(per_class)}})


_BUILDERS: dict[str, Callable] = {
    "loso": _loso,
    "loso_speaker": _loso_speaker,
    "kfold_val": _kfold_val,
    "official": _official,
    "random": _random,
    "cross_corpus": _cross_corpus,
    "kshot": _kshot,
}


# ----------------------------------------------------------------------------- splitting helpers

def _allocate(counts: np.ndarray, frac: float) -> np.ndarray:
    """Per-class counts summing to round(frac * total), each within 1 of frac * count
    (largest remainders)."""
    exact = counts * frac
    base = np.floor(exact).astype(np.int64)
    total = int(math.floor(counts.sum() * frac + 0.5))
    extra = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:max(extra, 0)]] += 1
    return base


def _stratified_take(idx, codes, frac, rng):
    """Split positions ``idx`` into ``(rest, taken)``, ``taken`` ~``frac`` of each class."""
    idx = np.asarray(idx, np.int64)
    if frac == 0 or not len(idx):
        return idx, np.empty(0, np.int64)
    classes, counts = np.unique(codes[idx], return_counts=True)
    n_take = _allocate(counts, frac)
    taken = np.concatenate([rng.permutation(idx[codes[idx] == c])[:n]
                            for c, n in zip(classes, n_take)])
    return np.setdiff1d(idx, taken), np.sort(taken)


def _stratified_parts(idx, codes, k, rng):
    """``k`` parts of ``idx``; each class dealt round the parts, carrying on from class to
    class, so per-class and total part sizes differ by at most one."""
    parts: list[list] = [[] for _ in range(k)]
    start = 0
    for c in np.unique(codes[idx]):
        members = rng.permutation(idx[codes[idx] == c])
        for j, m in enumerate(members):
            parts[(start + j) % k].append(m)
        start = (start + len(members)) % k
    return [np.sort(np.asarray(p, np.int64)) for p in parts]


def _draw_groups(values, pool, n, rng, protocol, what):
    """Draw ``n`` whole groups of ``values`` among the rows ``pool``: (rows, group ids)."""
    if not _is_int(n) or n < 1:
        raise ValueError(f"protocol {protocol!r}: val_{what} must be a positive integer, got {n!r}")
    groups, gcodes = _codes(values[pool])
    if n >= len(groups):
        raise ValueError(f"protocol {protocol!r}: val_{what}={n} leaves no training {what} "
                         f"(only {len(groups)} available)")
    pick = np.sort(rng.choice(len(groups), size=n, replace=False))
    return pool[np.isin(gcodes, pick)], [groups[i] for i in pick]


def _carve(df, pool, codes, frac, val, rng):
    """Validation from the rows ``pool``: ``(train, val, held_out, note)``."""
    empty = np.empty(0, np.int64)
    if val == "none" or frac == 0:
        return pool, empty, {}, ""
    note = ""
    if val == "speaker":
        spk = df["speaker"].to_numpy()
        groups, gcodes = _codes(spk[pool])
        if len(groups) >= 2:
            order = rng.permutation(len(groups))
            cum = np.cumsum(np.bincount(gcodes, minlength=len(groups))[order])
            n = int(np.argmin(np.abs(cum[:-1] - frac * len(pool)))) + 1
            pick = np.sort(order[:n])
            val_idx = pool[np.isin(gcodes, pick)]
            return np.setdiff1d(pool, val_idx), val_idx, {"speaker": [groups[i] for i in pick]}, ""
        note = "fewer than two training speakers: validation is a stratified utterance share"
    train, val_idx = _stratified_take(pool, codes, frac, rng)
    return train, val_idx, {}, note


# ----------------------------------------------------------------------------- checks and small helpers

def _check_protocol(protocol):
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {sorted(PROTOCOLS)}")


def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _require(df, col, protocol):
    if col not in df.columns:
        raise ValueError(f"protocol {protocol!r} needs the manifest column {col!r}, which is missing")
    empty = df[col].isna().to_numpy()
    if empty.any():
        first = df["utt_id"].iloc[int(np.flatnonzero(empty)[0])] if "utt_id" in df.columns else "?"
        how = "all" if empty.all() else f"{int(empty.sum())} of"
        raise ValueError(f"protocol {protocol!r} needs the manifest column {col!r}, but it is empty "
                         f"in {how} {len(df)} rows (first: {first!r})")


def _choice(protocol, option, value, allowed):
    if value not in allowed:
        raise ValueError(f"protocol {protocol!r}: {option} must be one of {list(allowed)}, got {value!r}")


def _fraction(protocol, option, value, allow_zero=False):
    ok = isinstance(value, (int, float)) and (0 <= value < 1 if allow_zero else 0 < value < 1)
    if not ok:
        rng = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"protocol {protocol!r}: {option} must be a number in {rng}, got {value!r}")


def _check_nested(df, protocol):
    per = df.groupby("speaker", sort=False)["session"].nunique()
    spread = per[per > 1]
    if len(spread):
        spk = spread.index[0]
        sessions = sorted(map(str, df.loc[df["speaker"] == spk, "session"].unique()))
        raise ValueError(f"protocol {protocol!r} keeps speakers out of the test session, but speaker "
                         f"{spk!r} appears in sessions {sessions}; use 'loso_speaker' instead")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _natural_key(v):
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.findall(r"\d+|\D+", str(v)))


def _codes(values):
    """(groups in natural order, integer code of every value)."""
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object), sort=False)
    order = sorted(range(len(uniques)), key=lambda i: _natural_key(uniques[i]))
    remap = np.empty(len(uniques), np.int64)
    remap[order] = np.arange(len(order))
    groups = [uniques[i].item() if isinstance(uniques[i], np.generic) else uniques[i] for i in order]
    return groups, remap[codes]


def _class_codes(df):
    """Class names and codes: from ``y`` when present (named ``y=1 (happy/excited)``), else ``label``."""
    if "y" in df.columns and df["y"].notna().all():
        ys, codes = _codes(df["y"].to_numpy())
        names = []
        for y in ys:
            labels = sorted(map(str, df.loc[df["y"] == y, "label"].unique())) if "label" in df else []
            names.append(f"y={y} ({'/'.join(labels)})" if labels else f"y={y}")
        return names, codes
    return _codes(df["label"].to_numpy())


def _trailing_int(v):
    m = re.search(r"(\d+)\D*$", str(v))
    return int(m.group(1)) if m else None


def _match_sessions(sess, wanted):
    """Session values named by ``wanted`` (exact, else by their number: 5 -> 'Ses05')."""
    sessions = _codes(sess)[0]
    out = []
    for w in _as_list(wanted):
        hit = [s for s in sessions if str(s) == str(w)]
        if not hit and _trailing_int(w) is not None:
            hit = [s for s in sessions if _trailing_int(s) == _trailing_int(w)]
        if len(hit) != 1:
            raise ValueError(f"protocol 'official': test session {w!r} "
                             f"{'is ambiguous' if hit else 'not found'}; sessions are {sessions}")
        out.append(hit[0])
    return out


def _as_list(v) -> list:
    return list(v) if isinstance(v, (list, tuple, set, np.ndarray)) else [v]


def _corpus_names(df) -> list:
    return _codes(df["corpus"].to_numpy())[0] if "corpus" in df.columns and len(df) else []


def _safe(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", s)


def _name(kind: str, value) -> str:
    s = str(value)
    return f"{kind}{s}" if s.isdigit() else _safe(f"{kind}_{s}")


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) else float(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, pd.DataFrame):
        return f"<manifest: {len(obj)} rows>"
    return str(obj)
