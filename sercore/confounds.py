"""Confounds measured, not described: what a predictor that never hears the audio scores.

:func:`speaker_only` predicts each test utterance's emotion from its speaker's identity alone: the most
frequent label of that speaker in the fold's training part. Where speakers and emotions are tied (URDU:
most speaker ids of its file names occur under one emotion only) it scores as much as a real model,
and every number on that corpus has to say so.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .metrics import classification_report


def speaker_only(manifest: pd.DataFrame, folds: Sequence) -> dict:
    """Score the speaker-only predictor on ``folds`` (objects with ``name``, ``train``, ``test`` index
    arrays into ``manifest``; :func:`sercore.experiment.folds`).

    ``manifest`` needs ``speaker`` and ``y`` (class index; ``attrs["label_map"]`` or ``labels`` name the
    classes when present). A test speaker never seen in training gets the training part's majority label
    (counted in ``unseen``). Returns ``{"ua", "wa", "macro_f1", "n_test", "unseen", "folds": [per fold
    {"fold", "ua", "wa", "n_test", "unseen"}], "note"}``, metrics in percent pooled over the folds' test
    utterances (each utterance tested once, as the chapters pool them).
    """
    for col in ("speaker", "y"):
        if col not in manifest.columns:
            raise ValueError(f"speaker_only needs the manifest column {col!r}; it has {list(manifest.columns)}")
    spk = manifest["speaker"].astype(str).to_numpy()
    y = manifest["y"].to_numpy().astype(int)
    n_classes = int(y.max()) + 1 if len(y) else 0
    labels = list(manifest.attrs.get("labels") or range(n_classes))
    n_classes = max(n_classes, len(labels))
    labels = [str(v) for v in labels] + [str(i) for i in range(len(labels), n_classes)]
    truth, pred, per_fold, unseen_total = [], [], [], 0
    for f in folds:
        tr, te = np.asarray(f.train, dtype=int), np.asarray(f.test, dtype=int)
        if not len(tr) or not len(te):
            raise ValueError(f"fold {f.name!r}: speaker_only needs training and test utterances")
        majority = int(np.bincount(y[tr], minlength=n_classes).argmax())
        by_speaker = pd.Series(y[tr]).groupby(spk[tr]).agg(lambda v: int(np.bincount(v, minlength=n_classes).argmax()))
        p = np.array([by_speaker.get(s, majority) for s in spk[te]], dtype=int)
        unseen = int(sum(s not in by_speaker.index for s in spk[te]))
        m = classification_report(y[te], p, labels)["metrics"]
        per_fold.append({"fold": str(f.name), "ua": m["ua"], "wa": m["wa"], "n_test": int(len(te)),
                         "unseen": unseen})
        truth += list(y[te])
        pred += list(p)
        unseen_total += unseen
    m = classification_report(truth, pred, labels)["metrics"]
    note = (f"each test utterance's label predicted from its speaker alone (the speaker's majority label in "
            f"training); {unseen_total} of {len(truth)} test utterances are of speakers unseen in training "
            "and get the training majority label")
    return {"ua": m["ua"], "wa": m["wa"], "macro_f1": m["macro_f1"], "n_test": len(truth),
            "unseen": unseen_total, "folds": per_fold, "note": note}


#: a speaker-only predictor within this many UA points of a method (or above it) flags the method's number
CONFOUND_MARGIN = 5.0


def confound_flag(speaker_ua: float | None, method_ua: float | None) -> str | None:
    """The flag every number on a confounded corpus carries, or None: "speaker and emotion confounded: a
    speaker-only predictor scores X UA" when the speaker-only UA is within :data:`CONFOUND_MARGIN` points
    of the method's (or above it)."""
    if speaker_ua is None or method_ua is None or speaker_ua < method_ua - CONFOUND_MARGIN:
        return None
    return f"speaker and emotion confounded: a speaker-only predictor scores {speaker_ua:.2f} UA on the same folds"
