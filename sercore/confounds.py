"""Confounds measured: what a predictor that never hears an utterance scores on the folds a run uses.

A corpus whose speakers each speak one emotion lets a model score by recognising the speaker. How much
of a score that explains is measured here, not described: :func:`speaker_only` predicts each test
utterance's class as the majority training class of its speaker, on the same folds as a run, scored with
the project's metrics (per fold, the mean over folds as in every headline, and pooled). Where it comes
within a few points of the methods, the corpus's numbers measure speakers as much as emotion
(:func:`report`, shown by the data chapter).

:func:`speaker_disjoint_folds` says whether a corpus allows folds that keep every speaker on one side
(train or test) while every test fold still holds every class, and builds them when it does.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: a speaker-only predictor within this many UA points of the best method flags the corpus
MARGIN = 5.0


def _labels_of(manifest: pd.DataFrame, labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        return list(labels)
    lm = manifest.attrs.get("label_map")
    if lm:
        from .data.labels import LABEL_MAPS

        if lm in LABEL_MAPS:
            return list(LABEL_MAPS[lm].classes)
    return [str(i) for i in range(int(manifest["y"].max()) + 1)]


def speaker_only(manifest: pd.DataFrame, folds: Sequence, labels: Sequence[str] | None = None,
                 group: str = "speaker") -> dict:
    """Predict each test utterance's class from its speaker alone, on ``folds``.

    manifest: rows with an integer class column ``y`` (a label map applied) and a ``group`` column
    (speaker id); folds: :class:`sercore.protocols.Fold` objects (``train``, ``test`` row positions).
    Per fold, each training speaker's prediction is the class it has most often in the fold's training
    part (ties: the class more frequent in the whole training part, then the lower index); a test speaker
    never heard in training gets the training part's majority class. The validation part is not used.

    Returns {"ua", "wa", "macro_f1": mean over folds (percent, as a run's headline), "pooled": {"ua",
    "wa"} over every test utterance at once, "n_test", "unseen_speakers" and "unseen_utterances" (test
    speakers, and their utterances, that training never heard: they got the majority class),
    "n_folds", "chance_ua" (100 / classes), "per_fold": one dict per fold (fold, n_test, ua, wa,
    unseen_utterances), "y_pred": (n_test,) predictions in fold order, "rows": their manifest rows}.
    """
    from .metrics import classification_report

    if group not in manifest.columns or manifest[group].isna().all():
        raise ValueError(f"speaker_only: the manifest has no {group!r} column to predict from")
    if "y" not in manifest.columns:
        raise ValueError("speaker_only: the manifest has no class column 'y' (apply a label map first)")
    if not len(folds):
        raise ValueError("speaker_only: no folds")
    labels = _labels_of(manifest, labels)
    K = len(labels)
    y = manifest["y"].to_numpy(np.int64)
    spk = manifest[group].astype(str).to_numpy()
    per_fold, preds, rows = [], [], []
    unseen_spk: set[str] = set()
    n_unseen = 0
    for f in folds:
        tr, te = np.asarray(f.train, np.int64), np.asarray(f.test, np.int64)
        if not len(tr) or not len(te):
            raise ValueError(f"speaker_only: fold {f.name!r} has an empty train or test part")
        overall = np.bincount(y[tr], minlength=K)
        order = np.lexsort((np.arange(K), -overall))          # classes by training frequency, then index
        majority = int(order[0])
        counts = pd.crosstab(spk[tr], y[tr]).reindex(columns=range(K), fill_value=0)
        best = {}
        for s, row in counts.iterrows():
            c = row.to_numpy()
            best[s] = int(next(k for k in order if c[k] == c.max()))
        p = np.array([best.get(s, majority) for s in spk[te]], dtype=np.int64)
        unseen = np.array([s not in best for s in spk[te]])
        unseen_spk.update(spk[te][unseen])
        n_unseen += int(unseen.sum())
        rep = classification_report(y[te], p, labels)["metrics"]
        per_fold.append({"fold": str(f.name), "n_test": int(len(te)), "ua": rep["ua"], "wa": rep["wa"],
                         "macro_f1": rep["macro_f1"], "unseen_utterances": int(unseen.sum())})
        preds.append(p)
        rows.append(te)
    y_pred, rows_all = np.concatenate(preds), np.concatenate(rows)
    pooled = classification_report(y[rows_all], y_pred, labels)["metrics"]
    mean = {k: float(np.mean([r[k] for r in per_fold])) for k in ("ua", "wa", "macro_f1")}
    return {**mean, "pooled": {"ua": pooled["ua"], "wa": pooled["wa"]}, "n_test": int(len(rows_all)),
            "unseen_speakers": len(unseen_spk), "unseen_utterances": n_unseen, "n_folds": len(folds),
            "chance_ua": 100.0 / K, "per_fold": per_fold, "y_pred": y_pred, "rows": rows_all}


# ----------------------------------------------------------------------------- speaker-disjoint folds

def speaker_disjoint_folds(manifest: pd.DataFrame, group: str = "speaker", max_folds: int | None = None) -> dict:
    """Folds that keep each speaker on one side (its utterances all in training or all in one test fold)
    and still hold every class in every test fold, if the corpus allows them.

    Such folds can number at most the speakers of the class with the fewest speakers. Speakers are
    given to folds class by class, rarest class first (each fold that lacks the class gets one of its
    unplaced speakers, the rest go to the fold with the fewest utterances); the largest number of folds
    that works is kept. Returns {"possible": bool, "folds": list of Fold (test = one group, train = the
    others, no validation part), "k": folds, "speakers_per_class": {class index: speakers}, "text": one
    sentence that says whether such a split exists and why (or why not)}."""
    from .protocols import Fold

    m = manifest
    y = m["y"].to_numpy(np.int64)
    spk = m[group].astype(str).to_numpy()
    labels = _labels_of(m, None)
    classes = sorted(set(y.tolist()))
    have = {s: set(y[spk == s].tolist()) for s in dict.fromkeys(spk)}
    size = {s: int((spk == s).sum()) for s in have}
    per_class = {c: sorted(s for s, cs in have.items() if c in cs) for c in classes}
    k_max = min(len(v) for v in per_class.values())
    rare = min(classes, key=lambda c: len(per_class[c]))
    out = {"possible": False, "folds": [], "k": 0,
           "speakers_per_class": {labels[c]: len(v) for c, v in per_class.items()}}
    if max_folds:
        k_max = min(k_max, int(max_folds))
    for k in range(k_max, 1, -1):
        groups: list[set] = [set() for _ in range(k)]
        placed: dict[str, int] = {}
        for c in sorted(classes, key=lambda c: (len(per_class[c]), c)):
            free = sorted((s for s in per_class[c] if s not in placed), key=lambda s: (-size[s], s))
            for g in range(k):
                if not any(c in have[s] for s in groups[g]) and free:
                    s = free.pop(0)
                    groups[g].add(s)
                    placed[s] = g
            for s in free:
                g = min(range(k), key=lambda g: (sum(size[x] for x in groups[g]), g))
                groups[g].add(s)
                placed[s] = g
        for s in have:                       # speakers of no class left (none: every speaker has a class)
            if s not in placed:
                g = min(range(k), key=lambda g: (sum(size[x] for x in groups[g]), g))
                groups[g].add(s)
        if all(set().union(*(have[s] for s in g)) >= set(classes) for g in groups):
            rows = np.arange(len(m))
            folds = []
            for i, g in enumerate(groups):
                test = rows[np.isin(spk, sorted(g))]
                folds.append(Fold(f"speakers{i + 1:02d}", rows[~np.isin(spk, sorted(g))], np.zeros(0, np.int64),
                                  test, {"test": {group: sorted(g)}}))
            out.update(possible=True, folds=folds, k=k)
            break
    n_spk = len(have)
    if out["possible"]:
        out["text"] = (f"A speaker-disjoint split exists: {out['k']} folds whose test speakers are never heard in "
                       f"training and whose every test fold holds all {len(classes)} classes ({n_spk} speakers; "
                       f"'{labels[rare]}' has the fewest, {len(per_class[rare])}, which bounds the folds).")
    else:
        out["text"] = (f"No speaker-disjoint split holds every class in every test fold: '{labels[rare]}' is "
                       f"spoken by {len(per_class[rare])} speaker(s) only ({n_spk} speakers in all).")
    return out


# ----------------------------------------------------------------------------- the data chapter's table

def _paper_best(corpus: str, metric: str = "ua") -> tuple[float, str] | None:
    """The best within-corpus number the papers report on ``corpus`` (reference tables; cross-corpus
    columns, ``A->B``, left out): (value, "paper Table row")."""
    from . import PAPERS, reference

    name = "iemocap" if corpus == "iemocap_text" else corpus
    best = None
    for paper in PAPERS:
        try:
            ref = reference.load(paper)
        except (FileNotFoundError, KeyError):
            continue
        r = ref[(ref["dataset"] == name) & (ref["metric"] == metric)
                & ~ref["column"].fillna("").str.contains("->")]
        for _, row in r.iterrows():
            if best is None or row["value"] > best[0]:
                best = (float(row["value"]), f"{row['row']} ({paper} {row['table']}, paper)")
    return best


def report(manifests: dict, data_root: str | None = None, boards=(), margin: float = MARGIN) -> pd.DataFrame:
    """For every real corpus of ``manifests`` (``{corpus: manifest}`` as loaded, before any label map):
    the speaker-only predictor on the corpus's default folds (its leaderboard's label map and protocol,
    every fold: ``params/leaderboard/<corpus>.yaml``, paper profile), beside the best UA a method reaches
    on that corpus (``boards``: leaderboard boards as :func:`sercore.leaderboard.find_boards` gives them, and
    the papers' within-corpus numbers), and a flag where the speaker-only UA comes within ``margin`` points
    of it. The data chapter runs beside the leaderboards of a build, so it passes the published boards only
    (``find_boards(results=False)``): its page does not depend on which run finished first.

    One row per corpus; ``attrs["sentences"]`` holds, per flagged corpus, the sentence the book prints
    ("speaker and emotion confounded: a speaker-only predictor scores X") and whether a speaker-disjoint
    split exists (:func:`speaker_disjoint_folds`)."""
    from . import data as sdata
    from .experiment import folds as make_folds
    from .runs import resolve

    boards = {b["dataset"]: b for b in boards}
    rows, sentences = [], []
    for name, raw in manifests.items():
        if name == "synthetic":
            continue
        row = {"corpus": name}
        try:
            P = resolve("leaderboard", name, "paper", {"data_root": data_root})
            lm = sdata.get_label_map(P["label_map"])
            m = lm.apply(raw).reset_index(drop=True)
            fl = make_folds(m, P)
            res = speaker_only(m, fl, lm.classes)
        except Exception as e:          # noqa: BLE001 - said in the row, never skipped silently
            rows.append({**row, "flag": f"not measured: {type(e).__name__}: {str(e).splitlines()[0]}"})
            continue
        n_total = getattr(fl, "total", len(fl))
        row.update({"classes": len(lm.classes), "protocol": f"{P['protocol']}, {len(fl)} of {n_total} folds"
                    if len(fl) < n_total else f"{P['protocol']}, {len(fl)} fold{'s' if len(fl) != 1 else ''}",
                    "test utterances": res["n_test"], "speaker-only UA": res["ua"], "speaker-only WA": res["wa"],
                    "pooled UA": res["pooled"]["ua"], "chance UA": res["chance_ua"],
                    "unseen speakers' test utterances": res["unseen_utterances"]})
        cands = []
        b = boards.get(name)
        if b and b["scores"]:
            top = max(b["scores"], key=b["scores"].get)
            cands.append((b["scores"][top], f"{top} (leaderboard, {b['profile']})"))
        pb = _paper_best(name)
        if pb:
            cands.append(pb)
        if cands:
            best, where = max(cands)
            row.update({"best method UA": best, "best method": where,
                        "gap (points)": res["ua"] - best})
            confounded = res["ua"] >= best - margin
        else:
            row.update({"best method UA": None, "best method": "no method measured here yet", "gap (points)": None})
            confounded = False
        if confounded:
            row["flag"] = f"speaker and emotion confounded: a speaker-only predictor scores {res['ua']:.1f}"
            split = speaker_disjoint_folds(m)
            s = (f"**{name}**: speaker and emotion confounded: a speaker-only predictor scores {res['ua']:.1f} UA "
                 f"on the folds the runs use ({row['protocol']}), against {best:.1f} for the best method, "
                 f"{where}; chance is {res['chance_ua']:.1f}. {split['text']}")
            if split["possible"]:
                alt = speaker_only(m, split["folds"], lm.classes)
                s += (f" On those folds the speaker-only predictor falls to {alt['ua']:.1f} UA (every test "
                      "speaker is new to it).")
            sentences.append(s)
        else:
            row["flag"] = ""
        rows.append(row)
    df = pd.DataFrame(rows).set_index("corpus") if rows else pd.DataFrame()
    df.attrs["sentences"] = sentences
    df.attrs["margin"] = margin
    return df


def display_report(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`report` as the book prints it, one column per corpus so it fits the page whatever the number
    of corpora: UA and WA to 2 decimals, counts with separators, "–" for an absent value, the flag as one
    word (the sentences above the table say the rest)."""
    def num(v):
        return f"{v:.2f}" if v is not None and pd.notna(v) else "\u2013"

    def count(v):
        return f"{int(v):,}" if v is not None and pd.notna(v) else "\u2013"

    def text(v):
        return v if isinstance(v, str) and v else "\u2013"

    def flag(v):
        return "confounded" if isinstance(v, str) and v.startswith("speaker and emotion confounded") else text(v)

    rows = (("folds", "protocol", text), ("test utterances", "test utterances", count),
            ("speaker-only UA", "speaker-only UA", num), ("speaker-only WA", "speaker-only WA", num),
            ("speaker-only pooled UA", "pooled UA", num),
            ("test utterances of unseen speakers", "unseen speakers' test utterances", count),
            ("chance UA", "chance UA", num), ("best method UA", "best method UA", num),
            ("best method", "best method", text), ("flag", "flag", flag))
    out = pd.DataFrame({label: [fmt(df.at[c, key]) if key in df.columns else "\u2013" for c in df.index]
                        for label, key, fmt in rows}, index=df.index).T
    out.columns.name = "corpus"
    return out


def confound_flag(speaker_ua: float | None, method_ua: float | None, margin: float = MARGIN) -> str | None:
    """The flag a number on a confounded corpus carries, or None: "speaker and emotion confounded: a
    speaker-only predictor scores X UA on the same folds" when the speaker-only UA (on the same folds as the
    number) is within ``margin`` points of it, or above it."""
    if speaker_ua is None or method_ua is None or speaker_ua < method_ua - margin:
        return None
    return f"speaker and emotion confounded: a speaker-only predictor scores {speaker_ua:.2f} UA on the same folds"
