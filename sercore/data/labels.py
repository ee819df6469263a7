"""Emotion names and every paper's label setting, declared in one place.

Loaders write canonical names (:data:`EMOTIONS`) into the manifest's ``label``
column. A :class:`LabelMap` turns those into the class set of one paper setting:
it merges some labels (IEMOCAP's *excited* into *happy*), keeps the listed
classes and drops everything else, counting what it dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

#: canonical emotion names used in every manifest
EMOTIONS: tuple[str, ...] = (
    "neutral", "happy", "sad", "angry", "fear", "disgust", "surprise",
    "boredom", "excited", "frustrated", "calm", "contempt", "other",
)


@dataclass(frozen=True)
class LabelMap:
    """A paper's class set.

    name:    registry key, e.g. ``iemocap4``
    classes: class names in index order (index = target id)
    merge:   canonical label -> class it joins (``{"excited": "happy"}``)
    note:    one sentence for the book on what this setting does
    """

    name: str
    classes: tuple[str, ...]
    merge: dict = field(default_factory=dict)
    note: str = ""

    def target(self, label: str) -> int | None:
        """Class index of a canonical label, or ``None`` when the setting drops it."""
        label = self.merge.get(label, label)
        try:
            return self.classes.index(label)
        except ValueError:
            return None

    def apply(self, manifest: pd.DataFrame) -> pd.DataFrame:
        """Return the rows this setting keeps, with an integer ``y`` column.

        ``attrs['dropped']`` maps each dropped label to its count, and
        ``attrs['label_map']`` holds this map's name.
        """
        y = manifest["label"].map(self.target)
        keep = y.notna()
        out = manifest.loc[keep].copy()
        out["y"] = y[keep].astype(int)
        out.attrs = dict(manifest.attrs)
        out.attrs["dropped"] = {str(k): int(v) for k, v in
                                manifest.loc[~keep, "label"].value_counts().items()}
        out.attrs["label_map"] = self.name
        return out.reset_index(drop=True)


_FOUR = ("neutral", "happy", "sad", "angry")

LABEL_MAPS: dict[str, LabelMap] = {m.name: m for m in [
    LabelMap("iemocap4", _FOUR, {"excited": "happy"},
             "IEMOCAP 4 classes: excited merged into happy; frustrated and the rest dropped."),
    LabelMap("iemocap6", ("happy", "sad", "neutral", "angry", "excited", "frustrated"), {},
             "IEMOCAP 6 classes of conversation research."),
    LabelMap("emodb7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "boredom"), {},
             "Emo-DB, all 7 classes."),
    LabelMap("emodb4_mdat", _FOUR, {"boredom": "sad"},
             "Emo-DB 4 classes of the cross-language paper: its 420-utterance subset only adds up "
             "with boredom merged into sad (our reading)."),
    LabelMap("ser4", _FOUR, {"excited": "happy"},
             "Shared 4-class map for cross-corpus work: neutral, happy (+excited), sad, angry."),
    LabelMap("meld7", ("neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"), {},
             "MELD 7 classes (joy is stored as happy, sadness as sad, anger as angry)."),
    LabelMap("mosei6", ("happy", "sad", "angry", "fear", "disgust", "surprise"), {},
             "CMU-MOSEI six emotions, single label per utterance."),
    LabelMap("emovo7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"), {},
             "EMOVO 7 classes."),
    LabelMap("synthetic7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"), {},
             "Synthetic corpus, 7 classes."),
]}


def get_label_map(name: str) -> LabelMap:
    """Look up a label setting by name; the error lists the known ones."""
    try:
        return LABEL_MAPS[name]
    except KeyError:
        raise KeyError(f"unknown label map {name!r}; known: {sorted(LABEL_MAPS)}") from None
