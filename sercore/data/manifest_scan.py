"""Write a manifest corpus's ``manifest.csv`` from a folder whose file and folder names hold the labels.

``sercore data manifest DIR`` (:func:`write_manifest`) walks ``DIR`` for audio files and reads each
one's label (and speaker, and whatever else the names hold) from its path relative to ``DIR``:

* **folder per emotion** (the default): ``DIR/<label>/.../x.wav``, the first folder is the label
  (TESS-like trees, a person's own recordings sorted by emotion);
* **a pattern**: ``--pattern REGEX`` with named groups ``label`` (required), ``speaker`` and, where the
  names hold them, ``session``, ``split``, ``language``, ``gender`` (other groups are ignored), searched in
  the relative path (so it may span folders: ``(?P<speaker>[^/]+)/(?P<label>[a-z]+)\\d+\\.wav$``);
* **a preset** for a public layout: ``--preset`` one of :data:`PRESETS` (RAVDESS, CREMA-D, TESS, SAVEE,
  ShEMO), a pattern and the mapping of the corpus's codes onto the book's emotion names.

Codes that are not the book's emotion names or a common spelling of one are mapped in ``corpus.yaml``
(written beside the manifest from ``--map CODE=EMOTION`` and the preset's mapping; ``drop`` leaves a
label out). The result is read back at once (:func:`sercore.data.manifest_corpus.index`), so an unknown
label stops here with the line and the hint, and the summary says which protocol its runs will take.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from .manifest_corpus import CONFIG, MANIFEST, DROP, canonical

#: file suffixes taken as audio
AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aiff", ".aif", ".opus")
#: the manifest's columns a pattern's named groups may fill
GROUPS = ("label", "speaker", "session", "split", "language", "gender")


@dataclass(frozen=True)
class Preset:
    """A public corpus's naming: the pattern, its codes onto the book's emotions, its language."""

    pattern: str
    labels: dict = field(default_factory=dict)
    language: str | None = None
    title: str = ""


PRESETS: dict[str, Preset] = {
    # 03-01-05-01-02-01-12.wav: modality-channel-EMOTION-intensity-statement-repetition-ACTOR
    "ravdess": Preset(r"(?:^|/)\d\d-\d\d-(?P<label>\d\d)-\d\d-\d\d-\d\d-(?P<speaker>\d\d)\.wav$",
                      {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fear",
                       "07": "disgust", "08": "surprise"}, "en", "RAVDESS"),
    # 1001_DFA_ANG_XX.wav: ACTOR_sentence_EMOTION_level
    "crema_d": Preset(r"(?:^|/)(?P<speaker>\d{4})_[A-Z]{3}_(?P<label>[A-Z]{3})_[A-Z]{1,2}\.wav$",
                      {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral",
                       "SAD": "sad"}, "en", "CREMA-D"),
    # OAF_angry/OAF_back_angry.wav, YAF_pleasant_surprised/YAF_bath_ps.wav: SPEAKER_word_EMOTION
    "tess": Preset(r"(?:^|/)(?P<speaker>[OY]AF)_[^_/]+_(?P<label>[^/]+)\.wav$",
                   {"ps": "surprise", "pleasant_surprise": "surprise", "pleasant_surprised": "surprise"}, "en",
                   "TESS"),
    # DC_a01.wav (one folder) or DC/a01.wav (AudioData/<speaker>/): SPEAKER, EMOTION code, number
    "savee": Preset(r"(?:^|/)(?P<speaker>DC|JE|JK|KL)[_/](?P<label>sa|su|a|d|f|h|n)\d\d\.wav$",
                    {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral", "sa": "sad",
                     "su": "surprise"}, "en", "SAVEE"),
    # F01A01.wav: SPEAKER (gender + number), EMOTION letter, number
    "shemo": Preset(r"(?:^|/)(?P<speaker>[FM]\d\d)(?P<label>[AHNSWF])\d\d\.wav$",
                    {"A": "angry", "H": "happy", "N": "neutral", "S": "sad", "W": "surprise", "F": "fear"}, "fa",
                    "ShEMO"),
}


@dataclass
class Scan:
    """What :func:`scan` found: the rows to write and the files it could not read a label from."""

    rows: list[dict]
    unmatched: list[str]
    columns: list[str]


def audio_files(folder: Path) -> list[Path]:
    """Every audio file under ``folder`` (hidden files and folders left out), sorted by relative path."""
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix.lower() in AUDIO and p.is_file():
            out.append(p)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def scan(folder: Path | str, pattern: str | None = None) -> Scan:
    """The manifest rows of ``folder``: one per audio file whose relative path gives a label (the first
    folder, or ``pattern``'s group ``label``). ``ValueError`` (one line) for a pattern without a
    ``label`` group, or when no file gives one."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    rx = None
    if pattern is not None:
        try:
            rx = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"--pattern {pattern!r}: not a regular expression ({e})") from None
        if "label" not in rx.groupindex:
            raise ValueError(f"--pattern {pattern!r}: needs a named group (?P<label>...) that holds the emotion")
    files = audio_files(folder)
    if not files:
        raise ValueError(f"{folder}: no audio files ({', '.join(AUDIO)}) under it")
    rows, unmatched = [], []
    for f in files:
        rel = f.relative_to(folder).as_posix()
        if rx is None:
            parts = rel.split("/")
            if len(parts) < 2:
                unmatched.append(rel)
                continue
            rows.append({"path": rel, "label": parts[0]})
            continue
        m = rx.search(rel)
        if not m or not m.group("label"):
            unmatched.append(rel)
            continue
        row = {"path": rel}
        row.update({g: m.group(g) for g in GROUPS if g in rx.groupindex and m.group(g) is not None})
        rows.append(row)
    if not rows:
        how = f"pattern {pattern!r}" if pattern else "a folder per emotion (DIR/<label>/...)"
        raise ValueError(f"{folder}: no audio file's path fits {how} (e.g. {unmatched[0]!r}); give --pattern "
                         f"with (?P<label>...) or one of --preset {', '.join(PRESETS)}")
    columns = ["path", "label"] + [g for g in GROUPS[1:] if any(g in r for r in rows)]
    return Scan(rows, unmatched, columns)


def _parse_maps(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs or []:
        raw, sep, emo = pair.partition("=")
        if not sep or not raw.strip() or not emo.strip():
            raise ValueError(f"--map {pair!r}: expected CODE=EMOTION (or CODE=drop), e.g. --map calm=neutral")
        out[raw.strip()] = emo.strip().lower()
    return out


def write_manifest(folder: Path | str, *, pattern: str | None = None, preset: str | None = None,
                   maps: list[str] | None = None, language: str | None = None, force: bool = False) -> dict:
    """Write ``folder/manifest.csv`` (and ``folder/corpus.yaml`` when there is a label mapping or a
    language to record) from the names under ``folder``; read it back as a corpus and return a summary:
    ``{"manifest", "config", "rows", "unmatched", "labels", "speakers", "protocol", "why"}``.

    ``pattern`` / ``preset`` / ``maps`` (``["CODE=EMOTION", ...]``) / ``language``: see the module doc.
    An existing ``manifest.csv`` is kept unless ``force``. Raises ``ValueError`` (one line) for a bad
    pattern, a mapping onto an unknown emotion, no readable label, and any problem of the written
    manifest (unknown label, duplicate path ...: :func:`sercore.data.manifest_corpus.index`).
    """
    import yaml

    from . import manifest_corpus
    from .labels import EMOTIONS

    folder = Path(folder).expanduser().resolve()
    out = folder / MANIFEST
    if out.exists() and not force:
        raise ValueError(f"{out} exists; --force writes it again")
    chosen = None
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown --preset {preset!r}; known: {', '.join(PRESETS)}")
        chosen = PRESETS[preset]
        pattern = pattern or chosen.pattern
    mapping = dict(chosen.labels) if chosen else {}
    mapping.update(_parse_maps(maps or []))
    for raw, emo in mapping.items():
        if emo != DROP and emo not in EMOTIONS:
            raise ValueError(f"--map {raw}={emo}: {emo!r} is not one of the book's emotions "
                             f"({', '.join(EMOTIONS)}) or drop")
    found = scan(folder, pattern)
    cfg_path = folder / CONFIG
    cfg = manifest_corpus.config(folder) if cfg_path.is_file() else {}
    known = dict(cfg.get("labels") or {})
    unknown = sorted({r["label"] for r in found.rows
                      if canonical(r["label"], {**known, **mapping}) is None})
    if unknown:
        raise ValueError(f"{folder}: label(s) {unknown} are not the book's emotions ({', '.join(EMOTIONS)}); map "
                         f"each with --map CODE=EMOTION (or CODE=drop), or pick a --preset")
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=found.columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(found.rows)
    out.write_text(buf.getvalue(), encoding="utf-8")
    wrote_cfg = None
    if mapping or language or (chosen and chosen.language) or (chosen and chosen.title):
        new = {"labels": {**known, **mapping}} if (known or mapping) else {}
        lang = language or cfg.get("language") or (chosen.language if chosen else None)
        if lang:
            new["language"] = lang
        title = cfg.get("title") or (chosen.title if chosen else None)
        if title:
            new["title"] = title
        head = ("# The corpus's labels onto the book's emotion names (drop: left out), its language and name;\n"
                "# written by `sercore data manifest`, read with manifest.csv (sercore.data.manifest_corpus).\n")
        cfg_path.write_text(head + yaml.safe_dump(new, sort_keys=False, allow_unicode=True), encoding="utf-8")
        wrote_cfg = cfg_path
    m = manifest_corpus.index(folder)
    protocol, options, why = manifest_corpus.choose_protocol(m)
    return {"manifest": out, "config": wrote_cfg, "rows": len(found.rows), "unmatched": found.unmatched,
            "labels": {str(k): int(v) for k, v in m["label"].value_counts().sort_index().items()},
            "speakers": int(m["speaker"].nunique()), "protocol": protocol, "options": options, "why": why,
            "dropped": m.attrs.get("dropped_by_mapping") or {}}


def report(summary: dict) -> str:
    """What ``sercore data manifest`` prints."""
    lines = [f"wrote {summary['manifest']} ({summary['rows']} rows)"
             + (f" and {summary['config']}" if summary["config"] else "")]
    if summary["unmatched"]:
        shown = ", ".join(summary["unmatched"][:3]) + (" ..." if len(summary["unmatched"]) > 3 else "")
        lines.append(f"left out {len(summary['unmatched'])} audio file(s) whose path gives no label: {shown}")
    if summary["dropped"]:
        lines.append("dropped by the label mapping: " + ", ".join(f"{k} {v}" for k, v in summary["dropped"].items()))
    lines.append("labels: " + ", ".join(f"{k} {v}" for k, v in summary["labels"].items())
                 + f"; speakers: {summary['speakers']}")
    lines.append(f"protocol: {summary['protocol']} ({summary['why']})")
    name = Path(summary["manifest"]).parent.name
    lines.append(f"with its parent folder as SERCORE_DATA: sercore data list; sercore run ctmam --dataset {name}")
    return "\n".join(lines)
