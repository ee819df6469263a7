"""Parameters of the MDAT chapter (``params/mdat/*.yaml``, ``book/mdat.ipynb``)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..registry import Paper
from .common import PROTOCOLS, TrainingParams, param

#: per corpus of the paper, the label map onto its four classes (all share one class order); every corpus of
#: ``corpora`` is mapped with its own (:func:`label_map_for`: any other corpus, such as a manifest corpus, takes
#: ser4), and ``label_map`` (the main corpus's) must be that one
LABEL_MAPS = {"emodb": "emodb4_mdat", "iemocap": "iemocap4", "emovo": "ser4", "urdu": "ser4", "synthetic": "ser4"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")
#: the paper's corpus each synthetic language stands in for
SYNTHETIC_STANDS_FOR = {"en": "iemocap", "de": "emodb", "it": "emovo", "ur": "urdu"}


def main_spec(corpus: str, languages: list | None) -> str:
    """The spec in ``corpora`` of the run's main corpus: ``synthetic:<language>`` or the corpus name."""
    return f"{corpus}:{languages[0]}" if corpus == "synthetic" and languages else corpus


def label_map_for(corpus: str) -> str:
    """MDAT's label map for a corpus: the paper's reading for its corpora (:data:`LABEL_MAPS`), else ser4."""
    return LABEL_MAPS.get(corpus, "ser4")


def settled(P) -> dict:
    """``P`` as a dict with ``corpora`` (None: the main corpus alone) and ``ablation_source`` (None: the main
    corpus) filled in: what a manifest corpus's run (``params/mdat/_manifest.yaml``) leaves to the corpus."""
    main = main_spec(P["corpus"], P["languages"])
    return {**P, "corpora": list(P["corpora"] or [main]), "ablation_source": P["ablation_source"] or main}


#: the paper, declared once (sercore.registry): its key, the corpora and modalities of its reported numbers
PAPER = Paper(key="mdat", chapter="sercore.chapters.mdat", order=5,
              title="Cross-Language Speech Emotion Recognition Using Multimodal Dual Attention Transformers "
                    "(Zaidi, Latif, Qadir)",
              corpora=("iemocap", "emodb", "emovo", "urdu"), modalities=("audio", "text"))


@dataclass(kw_only=True, eq=False)
class Params(TrainingParams):
    label_map: str = param("label map of the main corpus: MDAT's map for it (emodb: emodb4_mdat, boredom merged "
                           "into sad; iemocap: iemocap4; emovo, urdu, synthetic: ser4)",
                           choices=sorted(set(LABEL_MAPS.values())))
    languages: list[str] | None = param("synthetic: the one language of the main corpus (its spec "
                                        "synthetic:<lang> must be in corpora); a real corpus: None", None,
                                        choices=tuple(SYNTHETIC_STANDS_FOR))
    corpora: list[str] | None = param('every corpus of the run: "emodb", "emovo", "urdu", "iemocap", '
                                      '"synthetic:<lang>" or a manifest corpus (the main corpus among them; two '
                                      "or more give cross-language and k-shot; None: the main corpus alone)", None)
    cross_source: str = param("within: the first within-corpus fold's model is the source; full: train on "
                              "all of it", choices=("within", "full"))
    val_fraction: float = param("cross-language source training: share of source speakers held out for "
                                "validation", 0.1, ge=0, lt=1)
    kshot_ks: list[int] = param("target utterances per class to fine-tune on", ge=0)
    kshot_seeds: list[int] = param("one k-shot draw per seed", ge=0)
    kshot_sources: list[str] | None = param("sources whose pairs get k-shot curves (None: all)", None)
    ft_epochs: int = param("fine-tuning epochs on the k-shot samples", ge=1)
    ft_lr: float = param("fine-tuning learning rate", 0.0005, gt=0)
    ablation_source: str | None = param("Table VI source, one of corpora (the paper: IEMOCAP; None: the main "
                                        "corpus)", None)
    max_len: int = param("common length T of audio and text after cropping/padding (pooled audio frames of "
                         "audio_stride x 10 ms, or text tokens); a longer utterance loses its end, and the page "
                         "says how much audio and text were dropped", ge=1)
    audio_stride: int = param("mean-pool this many GE2E frames (10 ms each) into one before cropping; 1: off", ge=1)
    length_buckets: int = param("each epoch, sort the shuffled training utterances in runs of this many batches by "
                                "length into batches, so a batch pads little (0: plain shuffling)", 8, ge=0)
    checkpoint: bool = param("checkpoint every epoch of every training (within-corpus folds, source models, "
                             "ablations) beside the results folder and resume a killed run there", False)
    report_test_selection: bool = param("also record the main corpus's test UA after every epoch, to report what "
                                        "choosing the epoch on the test set would give (never the headline)", False)
    gap_protocols: list[str] = param("within-corpus MDAT on the main corpus also under these protocols (e.g. random: "
                                     "a speaker-dependent 80/20 split), to measure what the split is worth; never "
                                     "the headline", [], choices=PROTOCOLS)
    corpus_protocols: list[str] | None = param("within-corpus protocol of each corpus of corpora, in order (None: "
                                               "protocol for all; the main corpus's must be protocol)", None,
                                               choices=PROTOCOLS)

    def __post_init__(self):
        if not _NAME.match(self.corpus):
            raise ValueError(f"key 'corpus': expected a corpus name, got {self.corpus!r}")
        if self.label_map != label_map_for(self.corpus):
            raise ValueError(f"key 'label_map': expected {label_map_for(self.corpus)!r} (MDAT's map for "
                             f"{self.corpus}), got {self.label_map!r}")
        if (self.corpus == "synthetic") != bool(self.languages) or len(self.languages or []) > 1:
            raise ValueError(f"key 'languages': expected one language for the synthetic corpus and none for "
                             f"a real one, got {self.languages!r} for {self.corpus!r}")
        main = main_spec(self.corpus, self.languages)
        corpora = self.corpora if self.corpora is not None else [main]
        for spec in corpora:
            name, _, lang = spec.partition(":")
            if not _NAME.match(name) or (name == "synthetic") != (lang in SYNTHETIC_STANDS_FOR) \
                    or (name != "synthetic" and lang):
                raise ValueError(f"key 'corpora': expected {', '.join(n for n in LABEL_MAPS if n != 'synthetic')}, "
                                 f"synthetic:<{'|'.join(SYNTHETIC_STANDS_FOR)}> or a manifest corpus's name, "
                                 f"got {spec!r}")
        if main not in corpora:
            raise ValueError(f"key 'corpora': expected the main corpus {main!r} among them, got {self.corpora!r}")
        if self.ablation_source is not None and self.ablation_source not in corpora:
            raise ValueError(f"key 'ablation_source': expected one of corpora {corpora!r}, "
                             f"got {self.ablation_source!r}")
        if self.corpus_protocols is not None:
            if len(self.corpus_protocols) != len(corpora):
                raise ValueError(f"key 'corpus_protocols': expected one protocol per corpus of corpora "
                                 f"{corpora!r}, got {self.corpus_protocols!r}")
            own = self.corpus_protocols[corpora.index(main)]
            if own != self.protocol:
                raise ValueError(f"key 'corpus_protocols': expected {self.protocol!r} (the key 'protocol') for "
                                 f"the main corpus {main!r}, got {own!r}")
        if self.kshot_sources and not set(self.kshot_sources) <= set(corpora):
            raise ValueError(f"key 'kshot_sources': expected a subset of corpora {corpora!r}, "
                             f"got {self.kshot_sources!r}")
