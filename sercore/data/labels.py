"""Emotion names and the label settings.

Loaders write canonical names (:data:`EMOTIONS`) into the manifest's ``label``
column. A :class:`LabelMap` turns those into the class set of one paper setting:
it merges some labels (IEMOCAP's *excited* into *happy*), keeps the listed
classes and drops everything else, counting what it dropped. Each corpus module
declares the settings of its corpus (``CORPUS.label_maps``); :data:`LABEL_MAPS`
gathers them with the shared ``ser4``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..registry import LazyMapping

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


#: the label setting no corpus owns: the four classes every audio corpus of the book has
SER4 = LabelMap("ser4", ("neutral", "happy", "sad", "angry"), {"excited": "happy"},
                "Shared 4-class map for cross-corpus work: neutral, happy (+excited), sad, angry.")


def _label_maps() -> dict[str, LabelMap]:
    from ..registry import corpora

    out = {SER4.name: SER4}
    for c in corpora().values():
        for m in c.label_maps:
            if m.name in out and out[m.name] is not m:
                raise ValueError(f"label map {m.name!r} is declared twice (corpus {c.name!r} and another)")
            out[m.name] = m
    return out


#: every label setting: ``ser4`` and the ones each corpus module declares (its ``CORPUS.label_maps``)
LABEL_MAPS = LazyMapping(_label_maps, "label map")


def get_label_map(name: str) -> LabelMap:
    """Look up a label setting by name; the error lists the known ones."""
    try:
        return LABEL_MAPS[name]
    except KeyError:
        raise KeyError(f"unknown label map {name!r}; known: {sorted(LABEL_MAPS)}") from None
