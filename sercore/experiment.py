"""Stage helpers for the notebooks: one call per stage, nothing hidden.

A chapter notebook reads like::

    P = runs.notebook_params(globals())       # the injected parameters, validated
    run = results.Run(P)
    corpus = experiment.load_corpus(P)        # manifest + label map + subset
    result = chapter.run(P, corpus)           # sercore.chapters.<paper>.run -> ChapterResult
    out = run.write(result, corpus=corpus)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as sdata
from .results import SYNTHETIC_BANNER

@dataclass
class Corpus:
    """A corpus ready for a protocol: the mapped manifest and what to say about it."""

    name: str                 # registered corpus name
    manifest: pd.DataFrame    # rows kept by the label map, with integer column y
    labels: list              # class names in index order
    synthetic: bool           # True for the generated corpus
    note: str | None          # caveat to print next to results (copy differences, ...)
    dropped: dict = field(default_factory=dict)  # label -> utterances the label map dropped
    skipped: list = field(default_factory=list)  # (path, reason) of files skipped on request (skip_bad)

    #: :meth:`summary` shows one column per session (speaker) up to this many, else counts them
    MAX_SUMMARY_COLUMNS = 12

    def summary(self) -> pd.DataFrame:
        """Utterances per class and session (speaker where the corpus has no sessions), for a glance in
        the notebook. Classes are the label map's, after its merges (IEMOCAP's excited counts as happy):
        the rows are read from the class column ``y``, so they sum to the total."""
        m = self.manifest
        by = "session" if m["session"].notna().any() else "speaker"
        cls = pd.Series(pd.Categorical([self.labels[int(i)] for i in m["y"]], categories=list(self.labels)),
                        name="class")
        if m[by].nunique() > self.MAX_SUMMARY_COLUMNS:    # too many to read side by side: count them instead
            g = m[by].astype(str).to_numpy()
            rows = {c: {f"{by}s": int(pd.Series(g[(cls == c).to_numpy()]).nunique()),
                        "utterances": int((cls == c).sum())} for c in self.labels}
            rows["total"] = {f"{by}s": int(pd.Series(g).nunique()), "utterances": int(len(m))}
            return pd.DataFrame(rows).T.rename_axis("class")
        t = pd.crosstab(cls, m[by].astype(str).rename(by), margins=True, margins_name="total", dropna=False)
        return t.loc[[*self.labels, "total"]]

    def version(self) -> str:
        """A short fingerprint of the data this run used (sha1 of every kept row's id, label, text and the
        sha256 of its audio file's contents, :mod:`sercore.digests`): two runs with the same version saw
        the same utterances, even where a file was replaced by another of the same size."""
        import hashlib
        import os

        from .digests import file_digests

        rows = list(self.manifest[["utt_id", "label", "path", "text"]].itertuples(index=False))
        paths = [r.path for r in rows if isinstance(r.path, str) and os.path.isfile(r.path)]
        digests = {os.path.normpath(k): v for k, v in file_digests(paths).items()}
        h = hashlib.sha1()
        for row in rows:
            digest = digests.get(os.path.normpath(os.path.abspath(row.path)), "-") if isinstance(row.path, str) else "-"
            h.update(f"{row.utt_id}|{row.label}|{digest}|{row.text if isinstance(row.text, str) else ''}\n".encode())
        return h.hexdigest()[:12]

    def record(self) -> dict:
        """What ``metrics.json`` keeps about the data (see :meth:`sercore.results.Run.write`)."""
        return {"name": self.name, "version": self.version(), "utterances": int(len(self.manifest)),
                "labels": list(self.labels), "synthetic": bool(self.synthetic), "caveat": self.note,
                "dropped_labels": dict(self.dropped), "skipped_files": len(self.skipped)}

    def banner(self) -> str:
        """Markdown to show above results: the synthetic banner and/or the corpus caveat."""
        parts = [SYNTHETIC_BANNER] if self.synthetic else []
        if self.note:
            parts.append(f"**Data caveat.** {self.note}")
        return "\n\n".join(parts)


def prepare(corpus: str, *, label_map: str, data_root: str | None = None, languages=None,
            n_per_class: int | None = None, seed: int = 0, **load_kwargs) -> Corpus:
    """Load a corpus, apply a label map, optionally keep some languages and subsample.

    n_per_class: keep at most this many utterances per class (seeded, spread over
    speakers) — the smoke and quick profiles use it; ``None`` keeps everything.
    """
    from .protocols import subsample

    m = sdata.load(corpus, data_root, **load_kwargs)
    skipped = m.attrs.get("skipped") or []
    if skipped and m.empty:           # --skip-bad, and nothing was left: say so, not "no rows"
        p, r = skipped[0]
        raise ValueError(f"{corpus}: all {len(skipped)} files were skipped as unreadable or invalid (first: {p}: "
                         f"{r}); nothing is left to run on")
    note = m.attrs.get("note")
    if skipped:       # asked for (skip_bad): counted and said next to every result of this corpus
        shown = "; ".join(f"{Path(p).name}: {r}" for p, r in skipped[:3]) + ("; ..." if len(skipped) > 3 else "")
        note = f"{note + ' ' if note else ''}{len(skipped)} file(s) skipped as unreadable or invalid ({shown})."
    if languages:
        languages = [languages] if isinstance(languages, str) else list(languages)
        m = m[m["language"].isin(languages)].reset_index(drop=True)
        if m.empty:
            raise ValueError(f"{corpus}: no utterance in languages {languages}")
    lm = sdata.label_map(label_map, data_root)          # a manifest corpus: its own classes
    mapped = lm.apply(m)
    if n_per_class:
        mapped = subsample(mapped, int(n_per_class), seed=seed)
    return Corpus(corpus, mapped.reset_index(drop=True), list(lm.classes), corpus == "synthetic", note,
                  mapped.attrs.get("dropped", {}), list(skipped))


def load_corpus(P: dict, **load_kwargs) -> Corpus:
    """:func:`prepare` with a run's resolved parameters (corpus, label_map, data_root, languages,
    seed; ``skip_bad`` skips unreadable files, counted in the corpus note).

    ``n_per_class`` shrinks training only (:func:`trim_training`): every test set of the run's
    folds is kept whole, so a smoke or quick run measures on the protocol's real test sets.
    """
    corpus = prepare(P["corpus"], label_map=P["label_map"], data_root=P.get("data_root"),
                     languages=P.get("languages"), seed=int(P.get("seed", 0)),
                     on_error="skip" if P.get("skip_bad") else "raise", **load_kwargs)
    return trim_training(corpus, P) if P.get("n_per_class") else corpus


def _plan_key(params: dict, protocol: str | None = None) -> str:
    """What fixes a run's folds: protocol, its options and seed (``max_folds`` takes a prefix)."""
    import json

    name = protocol or params["protocol"]
    return json.dumps([name, int(params.get("seed", 0)), _protocol_options(name, params)],
                      sort_keys=True, default=str)


class Shared(dict):
    """A dict kept in ``DataFrame.attrs`` by reference, read-only by convention. pandas deep-copies ``attrs``
    into the result of every operation (each row of ``iterrows``, each copy or slice), so a large value there
    (a fold plan naming every utterance of every fold) made each of those operations cost its size: an MDAT
    smoke run on the synthetic corpus spent a tenth of its time copying its plan."""

    def __deepcopy__(self, memo):
        return self


def trim_training(corpus: Corpus, P: dict) -> Corpus:
    """The corpus with at most ``P['n_per_class']`` training (and as many validation) utterances per
    class in each fold, and every test utterance of every fold the run builds.

    The folds of each protocol the run uses (``P['protocol']`` and, for chapters that run several,
    ``P['protocols']``) are built once on the whole corpus; only their train and validation parts
    are subsampled (:func:`sercore.protocols.subsample`, spread over speakers). The kept rows are the
    manifest; the folds are stored with it (``manifest.attrs['fold_plan']``, by utterance id) so
    :func:`folds` returns exactly these, and the corpus note says what was trimmed.
    """
    from . import protocols

    n = int(P["n_per_class"])
    m = corpus.manifest
    names = [P["protocol"], *[p for p in (P.get("protocols") or []) if p != P["protocol"]]]
    ids = m["utt_id"].to_numpy()
    keep: set[int] = set()
    plans, n_train_full, n_train = {}, 0, 0
    full_rows, kept_rows = [], []           # training rows over the folds, before and after the cap
    for name in names:
        if name in ("cross_corpus", "kshot"):
            continue
        try:
            fl = _make_folds(m, P, name)
        except protocols.UnfitFoldError:
            if name == P["protocol"]:
                raise         # the run's own protocol does not fit the corpus: say why now
            continue
        except ValueError:
            continue          # a protocol this corpus cannot take: the chapter says so when it asks
        stored = []
        for f in fl:
            parts = {"test": f.test}
            for part in ("train", "val"):
                rows = getattr(f, part)
                if len(rows):
                    sub = m.iloc[rows].copy()
                    sub["_row"] = rows
                    rows = np.sort(protocols.subsample(sub, n, seed=int(P.get("seed", 0)))["_row"].to_numpy())
                parts[part] = rows
            n_train_full += len(f.train)
            n_train += len(parts["train"])
            full_rows.extend(int(i) for i in f.train)
            kept_rows.extend(int(i) for i in parts["train"])
            keep.update(int(i) for part in parts.values() for i in part)
            stored.append({"name": f.name, "held_out": f.held_out, "note": f.note,
                           "comparable": f.comparable, "reason": f.reason,
                           **{part: [str(ids[i]) for i in parts[part]] for part in protocols.PARTS}})
        plans[_plan_key(P, name)] = {"folds": stored, "total": fl.total}
    rows = sorted(keep)
    kept = m.iloc[rows].reset_index(drop=True)
    kept.attrs = {**m.attrs, "fold_plan": Shared(plans),
                  "trimmed": {"n_per_class": n, "from_rows": int(len(m)), "rows": int(len(kept)),
                              "train_rows": n_train, "train_rows_full": n_train_full}}
    note = (f"Training data trimmed by the profile: at most {n} training (and {n} validation) utterances "
            f"per class in each fold ({n_train} of {n_train_full} training rows over the folds run); "
            "every test set is whole.") + balance_note(m, full_rows, kept_rows)
    return Corpus(corpus.name, kept, corpus.labels, corpus.synthetic,
                  f"{corpus.note} {note}" if corpus.note else note, corpus.dropped, corpus.skipped)


def balance_note(m: pd.DataFrame, full_rows, kept_rows, threshold: float = 0.05) -> str:
    """A sentence when a per-class cap changes the class balance of training: the largest change of any
    class's share of the training rows, before and after the cap (a capped training set of a skewed
    corpus is balanced, while its test set keeps the corpus's skew), else ''."""
    if not len(full_rows) or not len(kept_rows):
        return ""
    before = m["label"].iloc[list(full_rows)].value_counts(normalize=True)
    after = m["label"].iloc[list(kept_rows)].value_counts(normalize=True).reindex(before.index, fill_value=0.0)
    change = (after - before).abs()
    if change.max() < threshold:
        return ""
    lab = change.idxmax()
    return (f" The cap changes the class balance of training: {lab} is {before[lab]:.0%} of the full training "
            f"rows and {after[lab]:.0%} of the trimmed ones (the test sets keep the corpus's balance).")


def checkpoint_root(P: dict) -> Path:
    """Where a run with ``checkpoint: true`` keeps its per-epoch checkpoints: outside the results
    folder (a run is staged in a temporary folder that a killed run loses), one folder per
    (profile, seed): ``<results>/<paper>/<dataset>/.checkpoints/<profile>-seed-<seed>`` (``<results>``:
    :func:`sercore.paths.checkpoints_dir`); a killed run started again with the same parameters resumes
    there (:func:`sercore.train.fit`), and fold workers share it (:func:`sercore.train.cross_validate`)."""
    from .paths import checkpoints_dir

    return checkpoints_dir() / P["paper"] / P["dataset"] / ".checkpoints" / f"{P['profile']}-seed-{int(P['seed'])}"


def frame_features(manifest: pd.DataFrame, extractor: str, *, progress: bool = True,
                   **config) -> list[np.ndarray]:
    """Frame-level features ``(T, D)`` per manifest row through the shared feature cache.

    Extractors that return ``(D, T)`` spectral arrays (mfcc, logmel) are transposed
    so every model sees time first.
    """
    from .features import extract, get_extractor

    ex = get_extractor(extractor, **config)
    feats = extract(manifest, ex, cache=True, progress=progress)
    if extractor in ("mfcc", "logmel"):
        feats = [np.ascontiguousarray(f.T, dtype=np.float32) for f in feats]
    return [np.asarray(f, dtype=np.float32) for f in feats]


def audio_seconds(manifest: pd.DataFrame) -> np.ndarray:
    """Seconds of audio of every manifest row (its ``start``/``end`` when the row is a part of a file,
    else the whole file's duration from its header or container)."""
    import soundfile as sf

    from .data._io import split_media_fragment
    from .features.media import MEDIA_SUFFIXES, probe

    out = []
    for row in manifest.itertuples(index=False):
        path, start, end = split_media_fragment(str(row.path))
        start = getattr(row, "start", None) if start is None else start
        end = getattr(row, "end", None) if end is None else end
        if start is not None and end is not None and pd.notna(start) and pd.notna(end):
            out.append(float(end) - float(start))
        elif Path(path).suffix.lower() in MEDIA_SUFFIXES:
            out.append(float(probe(path)["duration"]))
        else:
            out.append(float(sf.info(path).duration))
    return np.asarray(out, dtype=float)


def clipping(manifest: pd.DataFrame, max_s: float | None) -> dict:
    """What clipping every utterance to its first ``max_s`` seconds drops: utterances, the longest (s),
    how many are clipped, seconds and share of all audio dropped. Nothing is clipped silently: chapters
    that clip show this. ``max_s`` None: nothing is clipped."""
    secs = audio_seconds(manifest)
    lost = np.clip(secs - float(max_s), 0, None) if max_s else np.zeros_like(secs)
    return {"utterances": int(len(secs)), "longest (s)": round(float(secs.max()), 2) if len(secs) else 0.0,
            "kept per utterance (s)": None if not max_s else float(max_s),
            "utterances clipped": int((lost > 0).sum()), "audio dropped (s)": round(float(lost.sum()), 2),
            "audio dropped (%)": round(100.0 * float(lost.sum()) / max(float(secs.sum()), 1e-9), 2)}


def folds(manifest: pd.DataFrame, params: dict) -> list:
    """The folds of ``params['protocol']``, with the options that protocol takes read from ``params``.

    E.g. ``test_fraction`` for ``random``, ``k`` for ``kfold_val``, ``test_sessions`` for
    ``official``; ``seed`` and ``max_folds`` always.
    """
    plan = (manifest.attrs.get("fold_plan") or {}).get(_plan_key(params))
    mf = params.get("max_folds")
    if plan is not None and (mf is None and len(plan["folds"]) == plan["total"]
                             or mf is not None and mf <= len(plan["folds"])):
        # the corpus was trimmed for this protocol (trim_training); max_folds keeps a prefix
        return FoldList(_folds_from_plan(manifest, plan["folds"][:mf]), total=plan["total"],
                        trimmed=manifest.attrs.get("trimmed"))
    if plan is not None:
        raise ValueError(f"the corpus was trimmed for the first {len(plan['folds'])} fold(s) of protocol "
                         f"{params['protocol']!r}, and {'every fold' if mf is None else f'{mf} folds'} were "
                         "asked for: load it with the run's max_folds (experiment.load_corpus)")
    return _make_folds(manifest, params, params["protocol"])


class FoldList(list):
    """The folds a run uses, and how many the protocol has (``total``; ``max_folds`` keeps a prefix)
    and how training was trimmed (``trimmed``, from :func:`trim_training`, else ``None``)."""

    def __init__(self, folds, total: int, trimmed: dict | None = None):
        super().__init__(folds)
        self.total, self.trimmed = int(total), trimmed


def _make_folds(manifest: pd.DataFrame, params: dict, name: str) -> FoldList:
    from . import protocols

    opts = dict(seed=int(params.get("seed", 0)), **_protocol_options(name, params))
    every = protocols.make_folds(manifest, name, **opts)
    mf = params.get("max_folds")
    return FoldList(every if mf is None else every[:mf], total=len(every))


def _folds_from_plan(manifest: pd.DataFrame, plan: list) -> list:
    from .protocols import PARTS, Fold

    pos = {u: i for i, u in enumerate(manifest["utt_id"].astype(str))}
    out = []
    for f in plan:
        missing = [u for part in PARTS for u in f[part] if u not in pos]
        if missing:
            raise ValueError(f"fold {f['name']!r}: {len(missing)} utterance(s) of its stored plan are not in "
                             f"the manifest (e.g. {missing[0]}); build folds on the corpus load_corpus returned")
        out.append(Fold(f["name"], *[np.array([pos[u] for u in f[part]], dtype=np.int64) for part in PARTS],
                        f["held_out"], f["note"], comparable=f["comparable"], reason=f["reason"]))
    return out


def describe_folds(fold_list: list, params: dict) -> dict:
    """The protocol record for ``metrics.json`` (same options as :func:`folds`)."""
    from . import protocols

    name = params["protocol"]
    out = protocols.describe(name, fold_list, seed=int(params.get("seed", 0)),
                             max_folds=params.get("max_folds"), **_protocol_options(name, params))
    total = getattr(fold_list, "total", None)
    if total is not None:
        out["n_folds_total"] = total
    if getattr(fold_list, "trimmed", None):
        out["training_trimmed"] = dict(fold_list.trimmed)
    return out


def _protocol_options(name: str, params: dict) -> dict:
    from .protocols import DEFAULTS

    return {k: params[k] for k in DEFAULTS[name] if params.get(k) is not None}


def headline(out: dict) -> pd.DataFrame:
    """WA, UA, macro F1 and weighted F1 of a run (mean ± std over folds when several ran)."""
    summary = (out.get("extra", {}).get("cv") or {}).get("summary", {})
    std = summary.get("std", {})
    n = summary.get("n", 1)
    row = {}
    for k, label in (("wa", "WA"), ("ua", "UA"), ("macro_f1", "macro F1"), ("weighted_f1", "weighted F1")):
        v = out["metrics"].get(k)
        row[label] = (f"{v:.2f}" + (f" ± {std[k]:.2f}" if n > 1 and std.get(k) is not None else "")
                      if v is not None else "–")
    sc = out.get("scope") or {}
    where = sc.get("text") or f"{n} fold(s)"
    if out["synthetic"] or not sc.get("complete", True):
        where += "; not comparable with the paper"
    idx = f"{out['dataset']} ({'synthetic, ' if out['synthetic'] else ''}{out['profile']}, {where})"
    return pd.DataFrame([row], index=[idx])


#: parameters that say where the run read and wrote on its machine: the panel names them, not their paths
MACHINE_PARAMS = ("data_root", "results_dir", "results_root")


def _panel_value(v) -> str:
    """A provenance value as text: an absent value a dash, a mapping as ``fear 69, disgust 46``, a list
    comma-separated (never a Python repr)."""
    if v is None:
        return "\u2013"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_panel_value(x)}" for k, x in v.items()) or "none"
    if isinstance(v, (list, tuple)):
        return ", ".join(_panel_value(x) for x in v) or "none"
    return v if isinstance(v, str) else str(v)


def provenance(out: dict) -> pd.DataFrame:
    """The provenance panel: commit, seed, device, run time, protocol, data, library versions, parameters
    (those of :data:`MACHINE_PARAMS` by name only: a page shows no path of the machine that ran it)."""
    env = out.get("extra", {}).get("environment", {})
    rows = {"git commit": out["git_sha"], "started (UTC)": out["started"], "run time (s)": out["runtime_s"],
            "device": out["device"], "seed": out["seed"], "profile": out["profile"],
            "protocol": out["protocol"].get("name"), "data": out["dataset"] + (" (synthetic)" if out["synthetic"] else ""),
            "corpus caveat": out.get("corpus_note") or "none"}
    corpus = out.get("extra", {}).get("corpus")
    if corpus:
        rows.update({"corpus": corpus["name"], "corpus version (sha1 of rows used)": corpus["version"],
                     "utterances used": corpus["utterances"], "classes": ", ".join(corpus["labels"]),
                     "labels dropped by the label map": corpus.get("dropped_labels") or "none"})
    rows.update({f"version: {k}": v for k, v in env.items()})
    # parameters as a params file or `--set KEY=VALUE` spells them (null, false, [a, b]): copied from here, they run
    params = out.get("extra", {}).get("params", {})
    rows.update({f"param: {k}": _yaml_value(v) for k, v in params.items() if k not in MACHINE_PARAMS})
    where = [k for k in MACHINE_PARAMS if params.get(k)]
    if where:
        rows["machine paths"] = f"{', '.join(where)}: where the machine that ran it keeps data and results (not shown)"
    return pd.DataFrame({"value": {k: _panel_value(v) for k, v in rows.items()}})


def _yaml_value(v) -> str:
    """One value in YAML flow style, as a params file holds it: ``null``, ``false``, ``[loso, loso_speaker]``."""
    import yaml

    text = yaml.safe_dump(v, default_flow_style=True, width=10**9).strip()
    return text[:-3].strip() if text.endswith("\n...") else text


def inventory(data_root: str | None = None) -> pd.DataFrame:
    """Every corpus (declared, and the data root's manifest corpora): found or not, its folder under the
    data root, utterances, speakers, modalities, languages. Counts read with thousands separators and an
    absent value as a dash; no path of this machine is shown (a folder reads ``<data root>/emodb``).

    ``attrs['manifests']`` holds the manifests of the corpora that were found.
    """
    rows, manifests = [], {}
    for name in sdata.names(data_root):          # the declared corpora, then the data root's manifest corpora
        where = ("generated (feature cache)" if name in sdata.CORPORA and sdata.CORPORA[name].generated
                 else f"<data root>/{sdata.corpus_dir(name, data_root).name}")
        if not sdata.is_available(name, data_root):
            rows.append({"corpus": name, "found": "no", "folder": where, "utterances": "\u2013",
                         "speakers": "\u2013", "modalities": "\u2013", "languages": "\u2013",
                         "skipped files": "\u2013"})
            continue
        m = sdata.load(name, data_root)
        manifests[name] = m
        s = sdata.summary(m)
        mods = [f"{k} {s[f'with_{k}']:,}" for k in ("audio", "text", "video") if s[f"with_{k}"]]
        rows.append({"corpus": name, "found": "yes", "folder": where, "utterances": f"{s['utterances']:,}",
                     "speakers": f"{s['speakers']:,}", "modalities": ", ".join(mods) or "\u2013",
                     "languages": ", ".join(sorted(map(str, m["language"].dropna().unique()))) or "\u2013",
                     "skipped files": f"{s['skipped']:,}"})
    df = pd.DataFrame(rows).set_index("corpus")
    df.attrs["manifests"] = Shared(manifests)
    return df


def plot_label_distributions(manifests: dict) -> None:
    """One bar chart of label counts per corpus (drawn on the current output), as the corpus labels
    them before any chapter's label map (the label maps' counts: :func:`label_map_counts`)."""
    import matplotlib.pyplot as plt

    n = max(len(manifests), 1)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, (name, m) in zip(axes.ravel(), manifests.items()):
        m["label"].value_counts().sort_index().plot.bar(ax=ax, color="tab:blue")
        ax.set_title(f"{name} ({len(m):,})")
        ax.set_ylabel("utterances")
        ax.set_xlabel("")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()


def label_map_counts(manifests: dict, root=None) -> pd.DataFrame:
    """Utterances per class after each label map a run applies to a corpus that was found: one row per
    (corpus, label map), the chapters and boards that use it (``params/<paper>/<dataset>.yaml``), every
    class with its count and, where the map merges labels, what it holds (``happy 1,636 (happy 595 +
    excited 1,041)``), and what the map drops. The counts a chapter's data table shows."""
    from . import PAPERS
    from .runs import datasets_with_params, resolve

    users: dict[tuple[str, str], list[str]] = {}
    for paper in (*PAPERS, "leaderboard"):
        for ds in datasets_with_params(paper):
            try:
                P = resolve(paper, ds, "paper")
            except Exception:          # noqa: BLE001 - a params file without this profile is not a run here
                continue
            if (isinstance(P.get("corpus"), str) and P["corpus"] in manifests and P["corpus"] != "synthetic"
                    and isinstance(P.get("label_map"), str)):
                users.setdefault((P["corpus"], P["label_map"]), []).append(f"{paper}/{ds}")
    rows = []
    for (corpus, lm_name), who in sorted(users.items()):
        lm = sdata.get_label_map(lm_name)
        m = manifests[corpus]
        mapped = lm.apply(m)
        parts = []
        for i, c in enumerate(lm.classes):
            sub = mapped[mapped["y"] == i]
            src = sub["label"].value_counts()
            merged = (" (" + " + ".join(f"{k} {v:,}" for k, v in src.items()) + ")") if len(src) > 1 else ""
            parts.append(f"{c} {len(sub):,}{merged}")
        dropped = mapped.attrs.get("dropped") or {}
        rows.append({"corpus": corpus, "label map": lm_name, "used by": ", ".join(sorted(set(who))),
                     "utterances kept": f"{len(mapped):,} of {len(m):,}", "classes": "; ".join(parts),
                     "dropped": ", ".join(f"{k} {v:,}" for k, v in dropped.items()) or "\u2013"})
    return pd.DataFrame(rows).set_index(["corpus", "label map"]) if rows else pd.DataFrame()


def caveats(manifests: dict):
    """The caveat each found corpus's loader attaches (a copy that differs from the official release),
    one row per corpus; a Markdown sentence when no corpus found here carries one."""
    from IPython.display import Markdown

    notes = {n: m.attrs.get("note") for n, m in manifests.items() if m.attrs.get("note")}
    if not notes:
        return Markdown("No loader attached a note to a corpus found for this build: each is read as its official release.")
    return pd.DataFrame({"caveat": notes}).rename_axis("corpus")


def synthetic_difficulty(seed: int = 0, n_mfcc: int = 13, test_session: int = 5) -> pd.DataFrame:
    """How hard the synthetic corpus is: MFCC mean/std + logistic regression, speaker-independent.

    Trains on every session but ``test_session`` and tests on it, per language, on the
    default 4-class synthetic corpus. Returns WA and UA in percent per language.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .metrics import classification_report

    corpus = prepare("synthetic", label_map="ser4", seed=seed)
    feats = frame_features(corpus.manifest, "mfcc", n_mfcc=n_mfcc, progress=False)
    X = np.stack([np.concatenate([f.mean(0), f.std(0)]) for f in feats])
    m = corpus.manifest
    rows = []
    for lang in sorted(m["language"].unique()):
        tr = ((m["language"] == lang) & (m["session"].astype(int) != test_session)).to_numpy()
        te = ((m["language"] == lang) & (m["session"].astype(int) == test_session)).to_numpy()
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        clf.fit(X[tr], m["y"][tr])
        rep = classification_report(m["y"][te], clf.predict(X[te]), corpus.labels)
        rows.append({"language": lang, "train": int(tr.sum()), "test": int(te.sum()),
                     "WA": round(rep["metrics"]["wa"], 2), "UA": round(rep["metrics"]["ua"], 2)})
    return pd.DataFrame(rows).set_index("language")
