"""Uncertainty of measured numbers: bootstrap intervals, paired tests, Holm, Friedman/Nemenyi.

Every statistic here is computed from the per-utterance test predictions of a run, the way the
headline number is: per fold, the metric of that fold's test utterances (WA, UA, macro and weighted
F1 as in :func:`sercore.metrics.classification_report`), then the mean over folds, then the mean over
training seeds. A per-class precision, recall or F1 (named ``recall/<class index>``,
:func:`class_metric`) is, as a chapter's ``per_class`` table, that of all folds' test utterances
pooled, then the mean over seeds. Inputs:

    y_true: (N,) int       class of each test utterance (N: test utterances over all folds)
    fold:   (N,) int       fold index of each utterance (0 when there is one test set)
    y_pred: (S, N) int     predicted class per training seed (S seeds; a 1-D (N,) array is one seed)

- :func:`bootstrap_ci`: a 95% interval from :func:`scipy.stats.bootstrap`, stratified by
  (fold, class): every (fold, class) stratum is its own sample, resampled with replacement to its
  own size, so each resample keeps the class balance of every fold; with several seeds the seed
  index is one more sample (the second level), so seed-to-seed variation widens the interval.
- :func:`paired_test`: two methods tested on the same utterances (and seeds): the difference of
  their metric, a paired-bootstrap interval of it and a two-sided permutation p-value from
  :func:`scipy.stats.permutation_test` (``permutation_type="samples"``: per utterance, which
  method's predictions are whose is swapped at random under the null hypothesis).
- :func:`holm`: Holm's step-down correction of a family of p-values.
- :func:`friedman_nemenyi`: methods ranked over several corpora, the Friedman test and Nemenyi's
  critical difference (Demšar 2006); :func:`plot_cd` draws the critical-difference diagram.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

METRICS = ("wa", "ua", "macro_f1")        # the headline metrics every interval computation gives by default
HEADLINE_METRICS = ("wa", "ua", "macro_f1", "weighted_f1")   # every metric of a fold scores() computes
CLASS_STATS = ("precision", "recall", "f1")   # per-class statistics (pooled over folds)
CONFIDENCE = 0.95
N_RESAMPLES = 2000
ALPHA = 0.05


# ----------------------------------------------------------------------------- formatting

def fmt_p(p) -> str:
    """A p-value as the book prints it: ``< 0.001`` below one in a thousand, else 3 decimals;
    an absent value is a dash."""
    if p is None or not np.isfinite(p):
        return "\u2013"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_signed_interval(low, high, digits: int = 1) -> str:
    """``[-0.6, +20.4]``: both ends with their sign, never clipped at zero (an interval that crosses
    zero reads as one)."""
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


# ----------------------------------------------------------------------------- inputs

def _as_arrays(y_true, y_pred, fold, n_classes: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and return ``y_true`` (N,), ``y_pred`` (S, N), ``fold`` (N,) as int64 arrays (class
    indices in [0, n_classes) when ``n_classes`` is given)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_pred.ndim == 1:
        y_pred = y_pred[None]
    fold = np.zeros_like(y_true) if fold is None else np.asarray(fold)
    if fold.dtype.kind not in "iu":                       # fold names -> indices, in order of appearance
        fold = pd.factorize(pd.Series(fold))[0]
    fold = fold.astype(np.int64)
    if y_true.ndim != 1 or y_pred.ndim != 2 or y_pred.shape[1] != y_true.shape[0] or fold.shape != y_true.shape:
        raise ValueError(f"expected y_true (N,), y_pred (S, N) or (N,) and fold (N,); got y_true "
                         f"{y_true.shape}, y_pred {y_pred.shape}, fold {fold.shape}")
    if y_true.size == 0:
        raise ValueError("no test utterances: an interval needs at least one prediction")
    if fold.min() < 0:
        raise ValueError(f"fold indices must be >= 0, got min {fold.min()}")
    if n_classes is not None:
        for name, y in (("y_true", y_true), ("y_pred", y_pred)):
            if y.min() < 0 or y.max() >= n_classes:
                raise ValueError(f"{name} holds class indices outside [0, {n_classes - 1}]: min {y.min()}, "
                                 f"max {y.max()}")
    return y_true, y_pred, fold


# ----------------------------------------------------------------------------- vectorised metrics

def class_metric(stat: str, k: int) -> str:
    """The name of class ``k``'s ``stat`` (precision | recall | f1) among :func:`scores`' metrics: ``recall/2``."""
    if stat not in CLASS_STATS:
        raise ValueError(f"a per-class statistic is one of {CLASS_STATS}, got {stat!r}")
    return f"{stat}/{int(k)}"


def _parse_class_metric(m: str) -> tuple[str, int] | None:
    stat, _, k = m.partition("/")
    return (stat, int(k)) if stat in CLASS_STATS and k.isdigit() else None


def _prf(tp: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (fractions) from per-class counts (any leading shape, classes last), as
    :func:`sercore.metrics.per_class`: precision 0 for a class never predicted, recall and F1 0 for a class
    absent (left out of the means by the callers)."""
    present = support > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(present, tp / np.where(present, support, 1), 0.0)
        precision = np.where(predicted > 0, tp / np.where(predicted > 0, predicted, 1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def scores(y_true: np.ndarray, y_pred: np.ndarray, fold: np.ndarray, n_classes: int, n_folds: int,
           metrics: Sequence[str] = METRICS) -> dict[str, np.ndarray]:
    """Headline metrics (percent) of many prediction sets at once.

    y_true, fold: (B, N) int;  y_pred: (B, S, N) int  (B: resamples or permutations, S: seeds)
    Returns {metric: (B,)}: per fold the metric over that fold's utterances (classes absent from a
    fold's test part left out of its means, as :func:`sercore.metrics.classification_report` does),
    mean over folds, then mean over seeds. A per-class metric (:func:`class_metric`) is that class's
    precision, recall or F1 over every fold's utterances pooled, then the mean over seeds.
    """
    B, S, N = y_pred.shape
    K, F = int(n_classes), int(n_folds)
    cell = (fold * K + y_true) * K                                     # (B, N)
    flat = ((np.arange(B * S).reshape(B, S, 1) * F * K * K) + cell[:, None, :] + y_pred).ravel()
    cm = np.bincount(flat, minlength=B * S * F * K * K).reshape(B, S, F, K, K).astype(np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)                          # (B, S, F, K)
    support, predicted = cm.sum(-1), cm.sum(-2)
    present = support > 0
    n_present = present.sum(-1)                                        # (B, S, F)
    fold_ran = n_present > 0
    precision, recall, f1 = _prf(tp, support, predicted)
    n_fold = support.sum(-1)
    per_fold = {"wa": tp.sum(-1) / np.maximum(n_fold, 1),
                "ua": recall.sum(-1) / np.maximum(n_present, 1),
                "macro_f1": np.where(present, f1, 0.0).sum(-1) / np.maximum(n_present, 1),
                "weighted_f1": (np.where(present, f1, 0.0) * support).sum(-1) / np.maximum(n_fold, 1)}
    pooled = None
    out = {}
    for m in metrics:
        if m in per_fold:
            v = np.where(fold_ran, per_fold[m], 0.0).sum(-1) / np.maximum(fold_ran.sum(-1), 1)  # (B, S)
        elif (pc := _parse_class_metric(m)) is not None and pc[1] < K:
            if pooled is None:                                         # folds pooled: (B, S, K) each
                pooled = dict(zip(CLASS_STATS, _prf(tp.sum(2), support.sum(2), predicted.sum(2))))
            v = pooled[pc[0]][..., pc[1]]
        else:
            raise ValueError(f"no vectorised metric {m!r}; known: {sorted(per_fold)} and per-class "
                             f"'<{'|'.join(CLASS_STATS)}>/<class index below {K}>'")
        out[m] = 100.0 * v.mean(-1)
    return out


def point_estimates(y_true, y_pred, fold=None, *, n_classes: int,
                    metrics: Sequence[str] = METRICS) -> dict[str, float]:
    """The headline metrics of one prediction set (no resampling), in percent."""
    y_true, y_pred, fold = _as_arrays(y_true, y_pred, fold, n_classes)
    s = scores(y_true[None], y_pred[None], fold[None], n_classes, fold.max() + 1, metrics)
    return {m: float(v[0]) for m, v in s.items()}


# ----------------------------------------------------------------------------- bootstrap

def _strata(y_true: np.ndarray, fold: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Utterance indices per (fold, class) stratum: those with two or more utterances (resampled)
    and the rest (a stratum of one utterance resamples to itself: kept fixed)."""
    key = fold * (y_true.max() + 1) + y_true
    groups = [np.flatnonzero(key == k) for k in np.unique(key)]
    resampled = [g for g in groups if len(g) >= 2]
    fixed = np.concatenate([g for g in groups if len(g) < 2] or [np.zeros(0, np.int64)])
    return resampled, fixed


def _bootstrap(y_true, preds: np.ndarray, fold, n_classes: int, func: Callable, *, n_resamples: int,
               confidence: float, method: str, seed: int, batch: int = 250, metrics: Sequence[str] = METRICS):
    """scipy.stats.bootstrap over (fold, class) strata (and seeds when S > 1).

    preds: (M, S, N) predictions of M methods on the same utterances; ``func`` maps
    {metric: (B, M)} (``metrics``, as :func:`scores` names them) to the statistic(s) (B,) or (k, B).
    Every statistic is computed on the same resamples. Returns (estimate, low, high) arrays.
    """
    M, S, N = preds.shape
    F = int(fold.max()) + 1
    strata, fixed = _strata(y_true, fold)

    def evaluate(u: np.ndarray, s: np.ndarray):
        """func of the metrics of utterance indices u (B, N) and seed indices s (B, S)."""
        out = {}
        for m in range(M):
            p = preds[m][s[:, :, None], u[:, None, :]]                            # (B, S, N)
            for k, v in scores(y_true[u], p, fold[u], n_classes, F, metrics).items():
                out.setdefault(k, []).append(v)
        return np.asarray(func({k: np.stack(v, axis=-1) for k, v in out.items()}))   # (k, B) or (B,)

    def stat(*samples, axis=-1):
        idx = [np.asarray(x) for x in samples]
        seed_idx = idx.pop() if S > 1 else None
        lead = (idx[0] if idx else seed_idx).shape[:-1]
        parts = [np.broadcast_to(i, lead + i.shape[-1:]) for i in idx] + [np.broadcast_to(fixed, lead + fixed.shape)]
        u = np.concatenate(parts, axis=-1).reshape(-1, N)                        # (B, N)
        s = (np.broadcast_to(seed_idx, lead + (S,)).reshape(-1, S) if seed_idx is not None
             else np.zeros((u.shape[0], 1), np.int64))
        res = evaluate(u, s)
        return res.reshape(res.shape[:-1] + lead)

    estimate = evaluate(np.arange(N)[None], np.arange(S)[None])[..., 0]
    data = tuple(strata) + ((np.arange(S),) if S > 1 else ())
    if not data:                                  # every stratum holds one utterance: nothing varies
        return estimate, estimate, estimate
    res = sps.bootstrap(data, stat, n_resamples=n_resamples, batch=batch, vectorized=True, paired=False,
                        confidence_level=confidence, method=method, rng=np.random.default_rng(seed))
    low, high = np.asarray(res.confidence_interval.low), np.asarray(res.confidence_interval.high)
    # every resample equal (a perfect classifier, one class): the interval is the point
    degenerate = ~np.isfinite(low) | ~np.isfinite(high)
    low, high = np.where(degenerate, estimate, low), np.where(degenerate, estimate, high)
    return estimate, np.minimum(low, estimate), np.maximum(high, estimate)


def describe_method(n_folds: int, n_seeds: int, n_resamples: int, method: str, per_class: bool = False) -> str:
    """How an interval was made, in words (stored with it in ``metrics.json``); ``per_class``: of a
    per-class statistic (folds pooled) rather than a headline metric (mean over folds)."""
    seeds = (f"; training seeds resampled as a second level ({n_seeds} seeds)" if n_seeds > 1 else "")
    over = " and seeds" if n_seeds > 1 else ""
    statistic = (f"the class's value over all folds pooled{', mean over seeds' if n_seeds > 1 else ''}, as in "
                 f"the per-class table" if per_class else f"mean over folds{over} as in the headline")
    return (f"stratified bootstrap over test utterances (strata: fold x class), pooled over {n_folds} "
            f"fold(s){seeds}; statistic: {statistic}; {n_resamples} resamples, {method} interval "
            f"(scipy.stats.bootstrap)")


def bootstrap_ci(y_true, y_pred, fold=None, *, n_classes: int, metrics: Sequence[str] = METRICS,
                 n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, method: str = "percentile",
                 seed: int = 0) -> dict[str, dict]:
    """Bootstrap interval of each metric (percent): headline metrics (:data:`HEADLINE_METRICS`) and
    per-class ones (:func:`class_metric`), all from the same resamples of the same strata.

    y_true (N,), y_pred (S, N) or (N,), fold (N,) (see the module docstring).
    Returns {metric: {"estimate", "low", "high", "confidence", "method", "n", "folds", "seeds",
    "n_resamples"}}; ``estimate`` is the metric of the predictions as given (the headline).
    """
    if method not in ("percentile", "basic"):
        raise ValueError(f"method must be 'percentile' or 'basic' (the strata make a jackknife, and so BCa, "
                         f"ill-defined), got {method!r}")
    y_true, y_pred, fold = _as_arrays(y_true, y_pred, fold, n_classes)
    metrics = list(metrics)
    est, low, high = _bootstrap(y_true, y_pred[None], fold, n_classes,
                                lambda d: np.stack([d[m][..., 0] for m in metrics]),
                                n_resamples=n_resamples, confidence=confidence, method=method, seed=seed,
                                metrics=metrics)
    F, S = int(fold.max()) + 1, y_pred.shape[0]
    how = {pc: describe_method(F, S, n_resamples, method, per_class=pc) for pc in (False, True)}
    return {m: {"estimate": float(est[i]), "low": float(low[i]), "high": float(high[i]),
                "confidence": confidence, "method": how[_parse_class_metric(m) is not None], "n": int(y_true.size),
                "folds": F, "seeds": S, "n_resamples": int(n_resamples)} for i, m in enumerate(metrics)}


# ----------------------------------------------------------------------------- paired test

def paired_test(y_true, pred_a, pred_b, fold=None, *, n_classes: int, metric: str = "ua",
                n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0,
                interval: bool = True, n_permutations: int | None = None) -> dict:
    """Method A against method B on the same test utterances (and seeds).

    pred_a, pred_b: (S, N) or (N,) predictions of the two methods (seed s of A paired with seed s of B).
    Returns {"diff": metric(A) - metric(B) in points, "low", "high" (paired stratified bootstrap
    interval of the difference; None when ``interval`` is False), "p" (two-sided permutation
    p-value: per utterance, A's and B's predictions swapped at random, ``n_permutations`` random
    permutations, default ``n_resamples``; the smallest p it can give is about 2 / n_permutations),
    "metric", "n"}.
    """
    y_true, a, fold = _as_arrays(y_true, pred_a, fold, n_classes)
    _, b, _ = _as_arrays(y_true, pred_b, fold, n_classes)
    if a.shape != b.shape:
        raise ValueError(f"paired methods need predictions of the same shape (seeds, utterances); got "
                         f"{a.shape} and {b.shape}")
    S, N = a.shape
    F = int(fold.max()) + 1
    K = int(n_classes)
    base = K ** np.arange(S)                                   # one code per utterance: all S predictions

    def decode(code):                                          # (..., N) -> (B, S, N)
        code = np.asarray(code).reshape(-1, N)
        return (code[:, None, :] // base[None, :, None]) % K

    def diff(x, y, axis=-1):
        lead = np.asarray(x).shape[:-1]
        B = int(np.prod(lead)) if lead else 1
        t, f = np.broadcast_to(y_true, (B, N)), np.broadcast_to(fold, (B, N))
        d = scores(t, decode(x), f, K, F, [metric])[metric] - scores(t, decode(y), f, K, F, [metric])[metric]
        return d.reshape(lead)

    code_a, code_b = (a * base[:, None]).sum(0), (b * base[:, None]).sum(0)
    res = sps.permutation_test((code_a, code_b), diff, permutation_type="samples", vectorized=True,
                               n_resamples=n_permutations or n_resamples, alternative="two-sided", batch=250,
                               rng=np.random.default_rng(seed))
    out = {"metric": metric, "diff": float(res.statistic), "p": float(res.pvalue), "n": int(N), "seeds": S,
           "low": None, "high": None}
    if interval:
        _, lo, hi = _bootstrap(y_true, np.stack([a, b]), fold, K, lambda d: d[metric][..., 0] - d[metric][..., 1],
                               n_resamples=n_resamples, confidence=confidence, method="percentile", seed=seed,
                               metrics=[metric])
        out["low"], out["high"] = float(lo), float(hi)
    return out


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as given); reject where adjusted <= alpha."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def pairwise(y_true, preds: Mapping[str, np.ndarray], fold=None, *, n_classes: int, metric: str = "ua",
             n_resamples: int = N_RESAMPLES, alpha: float = ALPHA, seed: int = 0) -> pd.DataFrame:
    """Every pair of methods (order of ``preds``), tested with :func:`paired_test`, Holm-corrected.

    preds: method -> (S, N) predictions on the same utterances. Returns one row per pair:
    a, b, diff (a - b, points), low, high, p, p_holm, significant (p_holm <= alpha).
    The permutations per pair grow with the number of pairs m (at least 20 m / alpha), so that the
    smallest Monte Carlo p-value (~2 / permutations) times m stays well below alpha: with too few
    permutations, Holm could never reject.
    """
    names = list(preds)
    m = len(names) * (len(names) - 1) // 2
    n_perm = max(int(n_resamples), int(np.ceil(20 * m / alpha)))
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            r = paired_test(y_true, preds[a], preds[b], fold, n_classes=n_classes, metric=metric,
                            n_resamples=n_resamples, seed=seed, n_permutations=n_perm)
            rows.append({"a": a, "b": b, **{k: r[k] for k in ("diff", "low", "high", "p", "n", "seeds")}})
    df = pd.DataFrame(rows, columns=["a", "b", "diff", "low", "high", "p", "n", "seeds"])
    df["p_holm"] = holm(df["p"].to_numpy())
    df["significant"] = df["p_holm"] <= alpha
    df.attrs.update(metric=metric, alpha=alpha, n_resamples=n_resamples, n_permutations=n_perm)
    return df


def difference_matrix(pairs: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """The pairs as a square table of strings: cell (row A, column B) is ``A - B [low, high]``, with
    ``*`` where the Holm-corrected test rejects equality; the diagonal is empty."""
    names = list(order) if order is not None else list(dict.fromkeys([*pairs["a"], *pairs["b"]]))
    cell = {}
    for _, r in pairs.iterrows():
        mark = " *" if r["significant"] else ""
        ci = f" [{r['low']:+.1f}, {r['high']:+.1f}]" if r["low"] is not None and np.isfinite(r["low"]) else ""
        cell[(r["a"], r["b"])] = f"{r['diff']:+.1f}{ci}{mark}"
        ci_neg = f" [{-r['high']:+.1f}, {-r['low']:+.1f}]" if ci else ""
        cell[(r["b"], r["a"])] = f"{-r['diff']:+.1f}{ci_neg}{mark}"
    return pd.DataFrame([[cell.get((a, b), "") for b in names] for a in names], index=names, columns=names)


def _p_clause(p) -> str:
    """``= 0.012`` or ``< 0.001`` (after "p")."""
    text = fmt_p(p)
    return text if text.startswith("<") else f"= {text}"


def pairs_display(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairwise table as the book prints it: differences and interval ends to 1 decimal with their
    sign, p-values as :func:`fmt_p` writes them, significance as yes/no."""
    out = pd.DataFrame({"A": pairs["a"], "B": pairs["b"],
                        "A - B (points)": [f"{d:+.1f}" for d in pairs["diff"]],
                        "95% interval": [fmt_signed_interval(lo, hi) if lo is not None and np.isfinite(lo)
                                         else "\u2013" for lo, hi in zip(pairs["low"], pairs["high"])],
                        "p": [fmt_p(p) for p in pairs["p"]],
                        "Holm p": [fmt_p(p) for p in pairs["p_holm"]],
                        "significant": ["yes" if s else "no" for s in pairs["significant"]],
                        "test utterances": [f"{int(n):,}" for n in pairs["n"]],
                        "seeds": [int(x) for x in pairs["seeds"]]})
    return out.reset_index(drop=True)


def interpret(pairs: pd.DataFrame, metric_label: str = "UA") -> str:
    """The prose that reads the pairwise table: generated from the numbers, it calls a difference
    real only where the Holm-corrected paired test rejects equality at the family's alpha."""
    if pairs.empty:
        return "Fewer than two methods ran, so no pair could be compared."
    alpha = pairs.attrs.get("alpha", ALPHA)
    n = int(pairs["n"].iloc[0])
    sig = pairs[pairs["significant"]].sort_values("diff", key=np.abs, ascending=False)
    perms = pairs.attrs.get("n_permutations")
    lines = [f"{len(pairs)} pair(s) of methods were compared on the same {n} test utterances "
             f"(paired permutation test of the {metric_label} difference"
             + (f", {perms} random permutations per pair" if perms else "")
             + f", Holm-corrected over the {len(pairs)} pairs, alpha = {alpha})."]
    if sig.empty:
        lines.append(f"No difference in {metric_label} is significant: on this test set the methods "
                     "cannot be told apart; read the ranking as a tie.")
    else:
        parts = []
        for _, r in sig.iterrows():
            # the winner first; the interval is of (winner - loser), both ends signed and never
            # clipped: an interval that crosses zero is printed as one
            hi, lo = (r["a"], r["b"]) if r["diff"] > 0 else (r["b"], r["a"])
            low, high = (r["low"], r["high"]) if r["diff"] > 0 else (-r["high"], -r["low"])
            ci = (f"95% interval {fmt_signed_interval(low, high)}, "
                  if low is not None and np.isfinite(low) else "")
            parts.append(f"{hi} over {lo} by {abs(r['diff']):.1f} points ({ci}Holm p {_p_clause(r['p_holm'])})")
        lines.append(f"{len(sig)} difference(s) are significant: " + "; ".join(parts) + ".")
        rest = len(pairs) - len(sig)
        if rest:
            lines.append(f"The other {rest} difference(s) are within what resampling the test utterances "
                         "produces: the test does not support calling them real.")
    if len(pairs) > 1:
        lines.append(f"Each pair's 95% interval is for that pair alone, not adjusted for the {len(pairs)} "
                     "comparisons: an interval that excludes 0 is not a finding unless the pair survives Holm.")
    return " ".join(lines)


# ----------------------------------------------------------------------------- across corpora

def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical value q_alpha for ``k`` methods: the studentized range statistic (infinite
    degrees of freedom) divided by sqrt(2) (Demšar 2006, Table 5a: 2.343 for k = 3, 2.569 for k = 4)."""
    if k < 2:
        raise ValueError(f"Nemenyi's test needs >= 2 methods, got {k}")
    return float(sps.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))


def friedman_nemenyi(table: pd.DataFrame, alpha: float = ALPHA, higher_is_better: bool = True) -> dict:
    """Rank methods over corpora: the Friedman test and Nemenyi's critical difference (Demšar 2006).

    table: one row per corpus (block), one column per method, the metric (e.g. UA); every cell must
    hold a value (choose the methods present on every corpus first: a corpus with a gap raises).
    Needs >= 2 corpora and >= 2 methods. Ties within a corpus share their mean rank.

    Returns {"ranks": Series (mean rank per method, 1 = best, best first), "rank_table": the per-corpus
    ranks, "statistic": Friedman's chi2_F = 12N/(k(k+1)) [sum_j R_j^2 - k(k+1)^2/4] with its chi-square
    p-value "p" (k - 1 degrees of freedom), "iman_davenport": F_F = (N-1) chi2_F / (N(k-1) - chi2_F)
    and its p-value "p_f" (F with k-1 and (k-1)(N-1) degrees of freedom; None when every corpus
    ranks the methods alike, where F_F is infinite), "q" (Nemenyi's q_alpha), "cd" = q sqrt(k(k+1)/(6N)),
    "cliques" (groups of methods, best first, whose mean ranks differ by less than CD), "n", "k",
    "alpha"}.
    """
    if table.isna().any().any():
        gaps = [f"{c} on {', '.join(map(str, table.index[table[c].isna()]))}" for c in table.columns
                if table[c].isna().any()]
        raise ValueError("every method needs a value on every corpus; missing: " + "; ".join(gaps))
    n, k = table.shape
    if n < 2 or k < 2:
        raise ValueError(f"a Friedman test needs >= 2 corpora and >= 2 methods; got {n} corpora x {k} methods")
    values = table.astype(float)
    rank_table = (-values if higher_is_better else values).rank(axis=1, method="average")
    ranks = rank_table.mean(axis=0).sort_values(kind="stable")
    R = ranks.to_numpy()
    chi2 = float(12.0 * n / (k * (k + 1)) * (np.sum(R ** 2) - k * (k + 1) ** 2 / 4.0))
    p = float(sps.chi2.sf(chi2, k - 1))
    denom = n * (k - 1) - chi2
    ff = float((n - 1) * chi2 / denom) if denom > 1e-12 else None
    p_f = float(sps.f.sf(ff, k - 1, (k - 1) * (n - 1))) if ff is not None else None
    q = nemenyi_q(k, alpha)
    cd = float(q * np.sqrt(k * (k + 1) / (6.0 * n)))
    return {"ranks": ranks, "rank_table": rank_table[list(ranks.index)], "statistic": chi2, "p": p,
            "iman_davenport": ff, "p_f": p_f, "q": q, "cd": cd, "cliques": cliques(ranks, cd),
            "n": n, "k": k, "alpha": alpha, "corpora": [str(c) for c in table.index]}


def cliques(ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of methods (in the order of ``ranks``, sorted best first) whose mean ranks all
    lie within less than ``cd`` of each other: the methods the Nemenyi test does not tell apart. Only
    groups of two or more are returned; a group inside a larger one is not repeated."""
    names, vals = list(ranks.index), ranks.to_numpy(dtype=float)
    spans = []
    for i in range(len(vals)):
        j = i
        while j + 1 < len(vals) and vals[j + 1] - vals[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return [names[a:b + 1] for a, b in spans]


def plot_cd(result: dict, ax=None, title: str | None = None):
    """The critical-difference diagram (Demšar 2006, Fig. 1) of :func:`friedman_nemenyi`'s result.

    An axis of mean ranks (1 = best, on the left); each method hangs from its mean rank on an elbow
    line to its name (the better half on the left, the rest on the right); a bar of length CD above
    the axis; thick bars under the axis join each clique of methods whose mean ranks differ by less
    than CD. Artists carry gids: ``cd-bar``, ``clique`` (one line per clique), ``method`` (one line
    per method), so a test can read what was drawn."""
    import matplotlib.pyplot as plt

    ranks = result["ranks"]
    k, cd = int(result["k"]), float(result["cd"])
    names, vals = list(ranks.index), ranks.to_numpy(dtype=float)
    groups = result.get("cliques")
    if groups is None:
        groups = cliques(ranks, cd)
    half = (k + 1) // 2
    n_side = max(half, k - half)
    height = 1.6 + 0.32 * (n_side + len(groups))
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5 + 0.35 * k, height))
    lo, hi = 1.0, float(max(k, 2))
    ax.set_xlim(lo - 0.1, hi + 0.1)
    top = 1.0
    # the axis of ranks and its ticks
    ax.plot([lo, hi], [top, top], color="black", lw=1, solid_capstyle="butt")
    for r in range(1, k + 1):
        ax.plot([r, r], [top, top + 0.12], color="black", lw=1)
        ax.text(r, top + 0.2, str(r), ha="center", va="bottom", fontsize=9)
    for r in np.arange(1.5, k, 1.0):
        ax.plot([r, r], [top, top + 0.06], color="black", lw=0.7)
    # the critical difference, above the axis
    ax.plot([lo, lo + cd], [top + 0.75, top + 0.75], color="black", lw=1.5, gid="cd-bar", clip_on=False)
    for x in (lo, lo + cd):
        ax.plot([x, x], [top + 0.68, top + 0.82], color="black", lw=1.5, clip_on=False)
    ax.text(lo + cd / 2, top + 0.85, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=9)
    # cliques, as thick bars just under the axis
    y_clique = top - 0.25
    for g, members in enumerate(groups):
        xs = [vals[names.index(m)] for m in members]
        y = y_clique - 0.22 * g
        ax.plot([min(xs) - 0.04, max(xs) + 0.04], [y, y], color="black", lw=3.5, solid_capstyle="round",
                gid="clique", clip_on=False)
    # methods: elbows out past the ends of the axis, the best half to the left, the rest to the right
    y0 = y_clique - 0.22 * max(len(groups), 1) - 0.25
    left_x, right_x = lo - 0.25, hi + 0.25
    for i, (name, r) in enumerate(zip(names, vals)):
        if i < half:
            y = y0 - 0.32 * i
            ax.plot([r, r, left_x], [top, y, y], color="black", lw=0.9, gid="method", clip_on=False)
            ax.text(left_x - 0.05, y, f"{name} ({r:.2f})", ha="right", va="center", fontsize=9)
        else:
            y = y0 - 0.32 * (k - 1 - i)
            ax.plot([r, r, right_x], [top, y, y], color="black", lw=0.9, gid="method", clip_on=False)
            ax.text(right_x + 0.05, y, f"({r:.2f}) {name}", ha="left", va="center", fontsize=9)
    ax.set_ylim(y0 - 0.32 * n_side - 0.1, top + 1.25)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
