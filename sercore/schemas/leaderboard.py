"""Parameters of the leaderboard (``params/leaderboard/*.yaml``, ``book/leaderboard.ipynb``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..registry import Paper, paper_keys
from .common import CorpusParams, param

#: the study, declared once (sercore.registry): every chapter's method and the baselines on the same folds
PAPER = Paper(key="leaderboard", chapter="sercore.leaderboard", order=90, study=True,
              title="Leaderboard: every method on the same folds, seeds and label map")


def methods() -> tuple[str, ...]:
    """What a board may train: ``baselines`` and every paper's chapter (:func:`sercore.registry.paper_keys`)."""
    return ("baselines", *paper_keys())


@dataclass(kw_only=True, eq=False)
class Params(CorpusParams):
    methods: list[str] = param("methods on the board: baselines and chapter keys", factory=lambda: list(methods()))
    seeds: list[int] = param("training seeds (at least 3 on paper and reference, whose pairwise tests the page prints)", ge=0)
    epochs: int | None = param("one shared epoch budget for every method, capping its pre-training and fine-tuning "
                              "epochs too (None: each chapter's own)", ge=1)
    baseline_epochs: int = param("epochs of the baselines when epochs is None", ge=1)
    encoder: str | None = param("a Hugging Face wav2vec 2.0 name or folder for the methods whose params name "
                                "one (CA-SER's paper profile fine-tunes facebook/wav2vec2-base); None: each "
                                "chapter's own", None)
    # (the help has no equals sign: papermill reads a parameters-cell line with two as no parameter)
    chapter_sets: list[str] = param("a chapter's parameter for the board's run of it, written PAPER.KEY, an equals "
                                    "sign, VALUE (read as YAML), on top of that chapter's params file: e.g. "
                                    "ca_ser.d_model 256 trains CA-SER smaller on a slow machine; the board's notes "
                                    "name each one", [])
    latency_utterances: int = param("test utterances of each fold timed one by one for the ms / utt column", ge=1,
                                    default=20)

    def __post_init__(self):
        known = methods()
        bad = [m for m in self.methods if m not in known]
        if bad:
            raise ValueError(f"key 'methods': expected one of {', '.join(known)}, got the string {bad[0]!r}")
        for item in self.chapter_sets:
            chapter_set(item)


def chapter_set(item: str) -> tuple[str, str, str]:
    """``"ca_ser.d_model=256"`` -> ``("ca_ser", "d_model", "256")`` (the value still YAML text); a ValueError
    naming what was expected for anything else."""
    paper, dot, rest = str(item).partition(".")
    key, eq, value = rest.partition("=")
    chapters = [m for m in methods() if m != "baselines"]
    if not (dot and eq and paper and key.strip() and value.strip()):
        raise ValueError(f"key 'chapter_sets': expected PAPER.KEY=VALUE (e.g. ca_ser.d_model=256), got {item!r}")
    if paper not in chapters:
        raise ValueError(f"key 'chapter_sets': {item!r}: expected a chapter key ({', '.join(chapters)}), "
                         f"got {paper!r}")
    return paper, key.strip(), value.strip()
