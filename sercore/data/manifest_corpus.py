"""Manifest corpora: any corpus a researcher holds, as a folder under the data root.

A folder ``$SERCORE_DATA/<name>/`` that is not a built-in corpus's is a corpus named ``<name>`` when
it holds one of:

* ``manifest.csv``: one row per utterance, columns ``path`` (relative to the folder) and ``label``
  always; ``speaker``, ``split`` (train/dev/test), ``text``, ``language``, ``session``, ``gender``,
  ``start`` and ``end`` (seconds inside the file) where the corpus has them. ``sercore data manifest
  DIR`` writes one from a folder whose names hold the labels (:mod:`sercore.data.manifest_scan`).
* EmoBox's per-fold metadata (``fold_<k>/<dataset>_{train,valid,test}_fold_<k>.jsonl``, one JSON
  object per line with ``key``, ``wav`` and ``emo``; ``label_map.json`` beside them maps ``emo`` onto
  the label names and leaves out codes it does not list; ``data.seg.wrd.stm`` gives each key's speaker
  as its third field). ``wav`` is read relative to the folder, with or without EmoBox's leading
  ``downloads/<dataset>/``.

An optional ``corpus.yaml`` beside them maps the corpus's labels onto the book's emotion names
(:data:`sercore.data.labels.EMOTIONS`; ``drop`` leaves a label out) and names the language and the
corpus::

    labels: {calm: neutral, surprised: drop}
    language: en
    title: RAVDESS (speech)

Labels that are the book's emotion names or a common spelling of one (``anger``, ``Angry``, ``ANG``,
``fearful``, ``ps`` ...) need no mapping. A bad manifest is a one-line error naming the file, the line
and the column: a missing file, an unknown or empty label, a duplicate path, a path leaving the folder,
an unknown split.

**Protocol.** A manifest corpus's runs take the protocol its manifest supports, stated wherever the
corpus is listed and in every run's parameters (:func:`choose_protocol`): the given splits (``split``
column, or EmoBox's one fold: ``official``); EmoBox's folds (``loso`` over them); else
leave-one-speaker-out when every speaker holds every class (``loso_speaker``); else stratified k-fold
(``kfold_val``, speaker-dependent). Its label map is its own classes (named after the corpus), and no
paper reports a number on it, so comparisons with the papers are marked not comparable.
"""
from __future__ import annotations

import csv
import io
import json
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

import pandas as pd

from ..registry import Corpus
from ._io import check_audio, read_text
from .errors import CorpusNotFoundError, CorruptFileError, SkipLog
from .labels import EMOTIONS, LabelMap
from .manifest import make_manifest

MANIFEST = "manifest.csv"
CONFIG = "corpus.yaml"
LAYOUT = """\
<name>/                  any folder under the data root that is not a built-in corpus's
  manifest.csv           path,label[,speaker,split,text,language,session,gender,start,end]
                         wav/a01.wav,angry,spk1,train,...   (path relative to <name>/)
  corpus.yaml            (optional) labels: {calm: neutral, surprised: drop}; language: en; title: ...
  wav/a01.wav ...
or EmoBox's metadata:    fold_1/<dataset>_train_fold_1.jsonl, fold_1/<dataset>_test_fold_1.jsonl, ...
                         label_map.json, data.seg.wrd.stm (optional); audio at its "wav" paths
`sercore data manifest <folder> --pattern REGEX` writes manifest.csv from file and folder names"""

#: optional columns of manifest.csv
OPTIONAL = ("speaker", "split", "text", "language", "session", "gender", "start", "end")
SPLITS = {"train": "train", "dev": "dev", "valid": "dev", "val": "dev", "validation": "dev", "test": "test"}
#: common spellings of the book's emotion names (lower case); a corpus.yaml mapping goes first
SYNONYMS = {
    "anger": "angry", "ang": "angry", "mad": "angry",
    "happiness": "happy", "hap": "happy", "joy": "happy", "joyful": "happy",
    "sadness": "sad",
    "fearful": "fear", "fea": "fear", "afraid": "fear", "scared": "fear",
    "disgusted": "disgust", "dis": "disgust",
    "surprised": "surprise", "sur": "surprise", "ps": "surprise", "pleasant_surprise": "surprise",
    "pleasant_surprised": "surprise", "pleasant surprise": "surprise",
    "neu": "neutral", "bored": "boredom", "exc": "excited", "frustration": "frustrated", "fru": "frustrated",
    "oth": "other",
}
DROP = "drop"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_FOLD = re.compile(r"^fold_?(\d+)$")


class NotAManifestCorpus(LookupError):
    """A name that is neither a built-in corpus nor a manifest corpus under the data root."""


# ----------------------------------------------------------------------------- finding them

def _kind(folder: Path) -> str | None:
    """``"csv"`` (manifest.csv), ``"emobox"`` (fold_<k>/*_test_fold_<k>.jsonl) or None."""
    if (folder / MANIFEST).is_file():
        return "csv"
    for d in folder.glob("fold*"):
        if _FOLD.match(d.name) and d.is_dir() and any(d.glob("*_test_fold_*.jsonl")):
            return "emobox"
    return None


def _name_problem(name: str) -> str | None:
    from ..registry import corpora, dataset_corpora

    builtin = corpora()
    if not _NAME.match(name):
        return "is not a name (lower-case letters, digits and '_'): rename the folder"
    if name in builtin or name in {c.dirname for c in builtin.values()}:
        return f"is a built-in corpus's name ({name}): rename the folder"
    parts = dataset_corpora(name)
    if parts:
        return (f"is made of built-in corpus names ({' + '.join(parts)}), so its runs would be taken for "
                "runs on those: rename the folder")
    return None


def _scan(root: Path) -> tuple[dict[str, Path], list[str]]:
    found, problems = {}, []
    if not root.is_dir():
        return found, problems
    from ..registry import corpora
    dirnames = {c.dirname for c in corpora().values()}
    for d in sorted(root.iterdir()):
        if d.name.startswith(".") or d.name in dirnames or not d.is_dir() or _kind(d) is None:
            continue
        why = _name_problem(d.name)
        if why:
            problems.append(f"{d}: holds a manifest but its name {d.name!r} {why}")
        else:
            found[d.name] = d
    return found, problems


def find(root: Path | str) -> dict[str, Path]:
    """The manifest corpora under data root ``root``: name -> folder, sorted by name."""
    return _scan(Path(root))[0]


def problems(root: Path | str) -> list[str]:
    """Folders under ``root`` that hold a manifest but cannot be a corpus (their names), one line each."""
    return _scan(Path(root))[1]


# ----------------------------------------------------------------------------- corpus.yaml

def config(folder: Path) -> dict:
    """``corpus.yaml`` of ``folder`` (``{}`` when there is none): ``labels`` (raw label -> emotion name or
    ``drop``), ``language``, ``title``. One-line :class:`CorruptFileError` naming the file and key."""
    import yaml

    path = Path(folder) / CONFIG
    if not path.is_file():
        return {}
    try:
        raw = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise CorruptFileError(path, f"{at}not valid YAML ({getattr(e, 'problem', None) or e})") from None
    if not isinstance(raw, dict):
        raise CorruptFileError(path, f"expected a mapping (labels, language, title), got {type(raw).__name__}")
    unknown = sorted(set(raw) - {"labels", "language", "title"})
    if unknown:
        raise CorruptFileError(path, f"key {unknown[0]!r}: expected one of labels, language, title")
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict):
        raise CorruptFileError(path, f"key 'labels': expected a mapping of the corpus's labels to emotion names "
                                     f"or drop, got {type(labels).__name__}")
    out = {}
    for k, v in labels.items():
        v = str(v).strip().lower() if v is not None else ""
        if v != DROP and v not in EMOTIONS:
            raise CorruptFileError(path, f"key 'labels.{k}': expected one of {', '.join(EMOTIONS)} or drop, "
                                         f"got {v!r}")
        out[str(k).strip()] = v
    lang = raw.get("language")
    if lang is not None and not (isinstance(lang, str) and re.match(r"^[a-z]{2,3}$", lang)):
        raise CorruptFileError(path, f"key 'language': expected an ISO 639 code such as en, got {lang!r}")
    return {"labels": out, "language": lang, "title": raw.get("title")}


def canonical(raw: str, mapping: dict) -> str | None:
    """The book's emotion name for a corpus label (``"drop"`` when the mapping drops it), or None."""
    if raw in mapping:
        return mapping[raw]
    low = raw.strip().lower()
    for k, v in mapping.items():
        if k.strip().lower() == low:
            return v
    if low in EMOTIONS:
        return low
    return SYNONYMS.get(low) or SYNONYMS.get(low.replace("-", "_"))


# ----------------------------------------------------------------------------- reading

def _inside(folder: Path, rel: str) -> Path | None:
    """``folder / rel`` when ``rel`` is a relative path that stays inside ``folder``, else None."""
    rel = rel.replace("\\", "/")
    if not rel or PurePosixPath(rel).is_absolute() or re.match(r"^[A-Za-z]:/", rel):
        return None
    path = (folder / rel).resolve()
    try:
        path.relative_to(folder.resolve())
    except ValueError:
        return None
    return path


def _label(raw: str, cfg: dict, bad, column: str = "label") -> str:
    if not raw:
        raise bad(column, "empty: every row needs a label")
    out = canonical(raw, cfg.get("labels") or {})
    if out is None:
        raise bad(column, f"unknown label {raw!r}: not one of the book's emotions ({', '.join(EMOTIONS)}); "
                           f"map it in {CONFIG} (labels: {{{raw}: <emotion> or drop}}) or "
                           f"`sercore data manifest --map {raw}=<emotion>`")
    return out


def _read_csv(folder: Path, cfg: dict, log: SkipLog) -> tuple[list[dict], dict]:
    path = folder / MANIFEST
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("path", "label") if c not in header]
    if missing:
        raise CorruptFileError(path, f"line 1: missing column(s) {missing}; expected path, label and any of "
                                     f"{', '.join(OPTIONAL)}, found {reader.fieldnames}")
    reader.fieldnames = header
    rows, seen, dropped = [], {}, {}
    present = [c for c in OPTIONAL if c in header]
    for row in reader:
        line = reader.line_num

        def bad(col, msg, line=line):
            return CorruptFileError(path, f"line {line}, column {col!r}: {msg}")

        rel = (row.get("path") or "").strip().replace("\\", "/")
        if not rel:
            raise bad("path", "empty: every row needs the path of its audio file")
        file = _inside(folder, rel)
        if file is None:
            raise bad("path", f"{rel!r} leaves the corpus folder {folder} (paths are relative to it, no '..')")
        key = PurePosixPath(rel).as_posix()
        if key in seen:
            raise bad("path", f"duplicate path {rel!r} (also on line {seen[key]})")
        seen[key] = line
        label = _label((row.get("label") or "").strip(), cfg, bad)
        raw_label = (row.get("label") or "").strip()
        rec = {"utt_id": key, "path": file, "label": label, "label_raw": raw_label, "_line": line, "_where": path}
        for col in present:
            value = (row.get(col) or "").strip()
            if col in ("speaker", "split") and not value:
                raise bad(col, f"empty (give every row a {col}, or leave the column out)")
            if col == "split":
                if value.lower() not in SPLITS:
                    raise bad(col, f"unknown split {value!r}; expected train, dev or test")
                value = SPLITS[value.lower()]
            if col in ("start", "end") and value:
                try:
                    value = float(value)
                except ValueError:
                    raise bad(col, f"expected seconds (a number), got {value!r}") from None
            if col == "gender" and value:
                value = {"f": "F", "female": "F", "m": "M", "male": "M"}.get(value.lower(), value)
            rec[col] = value if value != "" else None
        if label == DROP:
            dropped[raw_label] = dropped.get(raw_label, 0) + 1
            continue
        if not file.is_file():
            log.handle(CorruptFileError(path, f"line {line}, column 'path': no file {rel!r} in {folder}"))
            continue
        rows.append(rec)
    if not rows and not dropped and not log.items:
        raise CorruptFileError(path, "no data rows (expected a header line, then one row per utterance)")
    return rows, {"dropped": dropped, "source": MANIFEST, "folds": None}


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    out = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            raise CorruptFileError(path, f"line {i}: not a JSON object ({e})") from None
        if not isinstance(obj, dict):
            raise CorruptFileError(path, f"line {i}: expected a JSON object, got {type(obj).__name__}")
        for col in ("key", "wav", "emo"):
            if not str(obj.get(col) or "").strip():
                raise CorruptFileError(path, f"line {i}, column {col!r}: missing or empty")
        out.append((i, obj))
    return out


def _emobox_wav(folder: Path, wav: str, dataset: str | None) -> tuple[Path | None, str]:
    """The audio file of an EmoBox ``wav`` path: relative to the folder as written, or without EmoBox's
    leading ``downloads/<dataset>/``; ``(None, shown)`` when the path leaves the folder."""
    wav = wav.replace("\\", "/")
    first = _inside(folder, wav)
    if first is None:
        return None, wav
    parts = PurePosixPath(wav).parts
    if not first.is_file() and len(parts) > 2 and parts[0] == "downloads":
        alt = _inside(folder, "/".join(parts[2:]))
        if alt is not None and alt.is_file():
            return alt, wav
    return first, wav


def _stm_speakers(folder: Path) -> dict[str, str]:
    path = folder / "data.seg.wrd.stm"
    if not path.is_file():
        return {}
    out = {}
    for i, line in enumerate(read_text(path).splitlines(), 1):
        f = line.split()
        if len(f) >= 3 and not line.startswith(";;"):
            out[f[0]] = f[2]
    return out


def _read_emobox(folder: Path, cfg: dict, log: SkipLog) -> tuple[list[dict], dict]:
    folds = {}
    for d in folder.iterdir():
        m = _FOLD.match(d.name)
        if m and d.is_dir():
            files = {}
            for part in ("train", "valid", "test"):
                hits = sorted(d.glob(f"*_{part}_fold_{m.group(1)}.jsonl"))
                if len(hits) > 1:
                    raise CorruptFileError(d, f"{len(hits)} {part} lists ({', '.join(h.name for h in hits)}); "
                                              "expected one")
                if hits:
                    files[part] = hits[0]
            if "test" in files:
                folds[int(m.group(1))] = files
    folds = dict(sorted(folds.items()))
    for k, files in folds.items():
        if "train" not in files:
            raise CorruptFileError(folder / f"fold_{k}", "a test list without a train list "
                                                         f"(*_train_fold_{k}.jsonl)")
    lm_path = folder / "label_map.json"
    label_map = None
    if lm_path.is_file():
        try:
            label_map = json.loads(read_text(lm_path))
        except ValueError as e:
            raise CorruptFileError(lm_path, f"not JSON ({e})") from None
        if not isinstance(label_map, dict):
            raise CorruptFileError(lm_path, "expected a JSON object of emo code -> label name")
    speakers = _stm_speakers(folder)
    entries: dict[str, dict] = {}      # key -> record
    where: dict[str, dict[int, str]] = {}   # key -> {fold: part}
    dropped = {}
    for k, files in folds.items():
        for part, path in files.items():
            seen_here = {}
            for line, obj in _jsonl(path):
                key = str(obj["key"]).strip()
                if key in seen_here:
                    raise CorruptFileError(path, f"line {line}, column 'key': duplicate key {key!r} (also on line "
                                                 f"{seen_here[key]})")
                seen_here[key] = line
                where.setdefault(key, {})[k] = part
                if key in entries or key in dropped:
                    continue
                emo = str(obj["emo"]).strip()
                if label_map is not None and emo not in label_map:
                    dropped[key] = emo
                    continue
                raw = str(label_map[emo]) if label_map is not None else emo

                def bad(col, msg, path=path, line=line):
                    return CorruptFileError(path, f"line {line}, column {col!r}: {msg}")

                label = _label(raw, cfg, bad, "emo")
                if label == DROP:
                    dropped[key] = raw
                    continue
                file, shown = _emobox_wav(folder, str(obj["wav"]), obj.get("dataset"))
                if file is None:
                    raise bad("wav", f"{shown!r} leaves the corpus folder {folder}")
                rec = {"utt_id": key, "path": file, "label": label, "label_raw": raw, "_line": line, "_where": path,
                       "speaker": speakers.get(key),
                       "start": obj.get("start_time"), "end": obj.get("end_time")}
                entries[key] = rec
    counts = {}
    for key, raw in dropped.items():
        counts[raw] = counts.get(raw, 0) + 1
    info = {"dropped": counts, "source": f"EmoBox folds ({', '.join(f'fold_{k}' for k in folds)})"}
    if len(folds) == 1:
        (k, files), = folds.items()
        for key, rec in entries.items():
            rec["split"] = {"train": "train", "valid": "dev", "test": "test"}[where[key][k]]
        info["folds"] = None
    else:
        tests = {}
        for key, places in where.items():
            in_test = [k for k, part in places.items() if part == "test"]
            if len(in_test) != 1:
                shown = ", ".join(f"fold_{k}" for k in in_test) or "none"
                raise CorruptFileError(folder, f"EmoBox folds: key {key!r} is in the test lists of {shown}; this "
                                               "reader takes folds whose test lists divide the corpus (each "
                                               "utterance tested once) and trains each on the others")
            tests[key] = in_test[0]
            missing = [k for k in folds if k not in places]
            if missing:
                raise CorruptFileError(folder, f"EmoBox folds: key {key!r} (tested in fold_{in_test[0]}) is in no "
                                               f"list of fold_{missing[0]}: its train list is not the other folds")
        for key, rec in entries.items():
            rec["session"] = f"fold_{tests[key]}"
            if rec["speaker"] is None:
                rec["speaker"] = f"fold_{tests[key]}"
        info["folds"] = len(folds)
        if not speakers:
            info["speaker_note"] = ("no data.seg.wrd.stm: speakers unknown, each fold's test list is taken as one "
                                    "speaker group")
    rows = []
    for rec in entries.values():
        if rec["speaker"] is None:
            rec["speaker"] = "unknown"
        if not rec["path"].is_file():
            log.handle(CorruptFileError(rec["_where"], f"line {rec['_line']}, column 'wav': no file "
                                                        f"{str(rec['path'].relative_to(folder.resolve()))!r} in "
                                                        f"{folder}"))
            continue
        rows.append(rec)
    return rows, info


def _signature(folder: Path) -> tuple:
    files = [folder / MANIFEST, folder / CONFIG, folder / "label_map.json", folder / "data.seg.wrd.stm",
             *sorted(folder.glob("fold*/*.jsonl"))]
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file())


@lru_cache(maxsize=32)
def _index(folder: Path, signature: tuple, on_error: str) -> pd.DataFrame:
    name = folder.name
    cfg = config(folder)
    log = SkipLog(on_error)
    kind = _kind(folder)
    if kind is None:
        raise CorpusNotFoundError(name, folder, LAYOUT, detail=f"no {MANIFEST} and no EmoBox fold lists")
    rows, info = (_read_csv if kind == "csv" else _read_emobox)(folder, cfg, log)
    records = []
    for rec in rows:
        records.append({
            "utt_id": rec["utt_id"], "path": str(rec["path"]), "label": rec["label"],
            "label_raw": rec["label_raw"], "speaker": rec.get("speaker") or "unknown",
            "gender": rec.get("gender"), "session": rec.get("session"), "split": rec.get("split"),
            "text": rec.get("text"), "language": rec.get("language") or cfg.get("language"),
            "start": rec.get("start"), "end": rec.get("end"), "corpus": name,
        })
    if not records:
        raise CorruptFileError(folder / (MANIFEST if kind == "csv" else ""), "no utterance is left (every row was "
                               "dropped or skipped)")
    has_speaker = any(r["speaker"] != "unknown" for r in records)
    notes = [f"Manifest corpus {cfg.get('title') or name} ({info['source']})."]
    if info["dropped"]:
        notes.append("Left out by its label mapping: "
                     + ", ".join(f"{k} {v}" for k, v in sorted(info["dropped"].items())) + ".")
    if not has_speaker:
        notes.append("No speaker column: speakers unknown, so no speaker-independent protocol can run.")
    if info.get("speaker_note"):
        notes.append(info["speaker_note"][0].upper() + info["speaker_note"][1:] + ".")
    df = make_manifest(records, root=folder, note=" ".join(notes), skipped=log.items)
    df.attrs["folds"] = info["folds"]
    df.attrs["dropped_by_mapping"] = dict(info["dropped"])
    df.attrs["title"] = cfg.get("title") or name
    return df


def index(folder: Path | str, on_error: str = "raise") -> pd.DataFrame:
    """The manifest of a manifest corpus without reading its audio: rows checked (labels mapped, paths
    inside the folder and present, no duplicates), a one-line :class:`CorruptFileError` naming the file,
    line and column otherwise (``on_error="skip"``: a missing audio file is skipped and counted)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise CorpusNotFoundError(folder.name, folder, LAYOUT)
    df = _index(folder, _signature(folder), on_error)
    out = df.copy()
    out.attrs = dict(df.attrs)
    return out


def load(folder: Path | str, on_error: str = "raise") -> pd.DataFrame:
    """The manifest of a manifest corpus (:func:`index`), every audio file checked (readable, not empty,
    not truncated: :func:`sercore.data._io.check_audio`); ``attrs['protocol']`` is the protocol its runs
    take (:func:`choose_protocol`)."""
    m = index(folder, on_error)
    log = SkipLog(on_error)
    log.items = list(m.attrs.get("skipped") or [])
    keep = []
    for i, path in enumerate(m["path"]):
        try:
            check_audio(path)
            keep.append(i)
        except CorruptFileError as exc:
            log.handle(exc)
    if len(keep) < len(m):
        attrs = dict(m.attrs)
        m = m.iloc[keep].reset_index(drop=True)
        m.attrs = attrs
    m.attrs["skipped"] = log.items
    protocol, options, why = choose_protocol(m)
    m.attrs["protocol"] = {"name": protocol, **options, "why": why}
    m.attrs["listing"] = f"manifest corpus; protocol {protocol}: {why}"
    m.attrs["note"] = f"{m.attrs.get('note') or ''} Its runs take protocol {protocol} ({why}).".strip()
    return m


# ----------------------------------------------------------------------------- protocol and label map

def classes(m: pd.DataFrame) -> list[str]:
    """The emotion names a manifest holds, in the book's order (:data:`~sercore.data.labels.EMOTIONS`)."""
    have = set(m["label"])
    return [e for e in EMOTIONS if e in have]


def choose_protocol(m: pd.DataFrame) -> tuple[str, dict, str]:
    """``(protocol, options, why)`` for a manifest corpus, from what its manifest holds: the given splits
    (``official``); EmoBox's folds (``loso`` over them); leave-one-speaker-out when every speaker holds
    every class (each test fold measures every class); else stratified k-fold (``kfold_val``, k up to 10,
    at most the smallest class's size). ``ValueError`` when even 3 stratified parts cannot be made."""
    labels = classes(m)
    n_classes = len(labels)
    counts = m["label"].value_counts()
    if n_classes < 2:
        raise ValueError(f"manifest corpus {m.attrs.get('title') or ''}: one class only ({labels}); an emotion "
                         "corpus needs two or more")
    if m["split"].notna().any():
        parts = set(m["split"].dropna())
        missing = [p for p in ("train", "test") if p not in parts]
        if missing:
            raise ValueError(f"manifest corpus {m.attrs.get('title')}: the split column has no {missing[0]!r} rows")
        return "official", {"val": "speaker"}, "the manifest gives train/dev/test splits"
    if m.attrs.get("folds"):
        return "loso", {"val": "speaker"}, f"EmoBox's {m.attrs['folds']} folds, each fold's test list in turn"
    speakers = m.groupby("speaker")["label"]
    need = 2 * n_classes
    fits = [s for s, labs in speakers if set(labs) == set(labels) and len(labs) >= need]
    if len(fits) == speakers.ngroups >= 3:
        return "loso_speaker", {"val": "speaker"}, "every speaker holds every class: leave-one-speaker-out"
    smallest = int(counts.min())
    k = min(10, smallest, len(m) // need)
    if k < 3:
        small = counts.idxmin()
        raise ValueError(f"manifest corpus {m.attrs.get('title')}: class {small!r} has {smallest} utterance(s) and "
                         f"the corpus {len(m)}: too few for 3 stratified parts that each test every class (map "
                         f"{small!r} to drop in {CONFIG}, or add utterances)")
    lacking = [s for s, labs in speakers if set(labs) != set(labels)]
    why = (f"speakers unknown" if set(m["speaker"]) == {"unknown"} else
           f"{len(lacking)} of {speakers.ngroups} speaker(s) lack a class (e.g. {lacking[0]!r})" if lacking else
           f"{speakers.ngroups} speaker(s), too few utterances each for a test fold")
    return "kfold_val", {"k": k, "val": "fold"}, f"{why}: stratified {k}-fold (speaker-dependent)"


def label_map(folder: Path | str) -> LabelMap:
    """The corpus's own label setting: every class its manifest holds, named after the corpus."""
    m = index(folder)
    folder = Path(folder)
    return LabelMap(folder.name, tuple(classes(m)), {},
                    f"{m.attrs.get('title') or folder.name}: its {len(classes(m))} classes (manifest corpus).")


def spec(name: str, root=None) -> Corpus:
    """A :class:`~sercore.registry.Corpus` for the manifest corpus ``name`` under the data root."""
    from . import data_root

    base = data_root(root)
    found = find(base)
    if name not in found:
        raise NotAManifestCorpus(f"no manifest corpus {name!r} under {base} (no {base / name / MANIFEST})")
    folder = found[name]
    m = index(folder)
    protocol, _, _ = choose_protocol(m)
    mods = ("audio", "text") if m["text"].notna().all() and (m["text"].astype(str).str.strip() != "").all() \
        else ("audio",)
    return Corpus(name=name, dirname=name, title=m.attrs.get("title") or name, layout=LAYOUT,
                  load=load, label_map=name, modalities=mods, protocol=protocol, compares_as=None, order=1000)


def run_values(name: str, data_root=None, on_error: str = "raise") -> tuple[str, dict]:
    """What a manifest corpus decides for a run's parameters (``sercore.runs.resolve`` merges it between
    the paper's ``_base.yaml`` and its ``_manifest.yaml``): ``corpus``, ``label_map`` (its own classes) and
    ``protocol`` with its options. Returns ``(where it came from, values)``; :class:`NotAManifestCorpus`
    when there is no such corpus, a one-line ``ValueError`` when its manifest is bad."""
    from . import data_root as resolve_root

    base = resolve_root(data_root)
    found = find(base)
    if name not in found:
        problem = next((p for p in problems(base) if p.startswith(f"{base / name}:")), None)
        if problem:
            raise ValueError(problem)
        raise NotAManifestCorpus(f"no manifest corpus {base / name / MANIFEST}")
    m = index(found[name], on_error)
    protocol, options, why = choose_protocol(m)
    shown = str(found[name] / (MANIFEST if _kind(found[name]) == "csv" else "fold_*"))
    return f"{shown} (protocol: {why})", {"corpus": name, "label_map": name, "languages": None,
                                          "protocol": protocol, **options}
