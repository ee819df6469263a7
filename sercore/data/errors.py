"""Errors written for people: each names the path and what was expected there."""
from __future__ import annotations

from pathlib import Path


class CorpusNotFoundError(FileNotFoundError):
    """A corpus folder is missing or does not have the official layout."""

    def __init__(self, corpus: str, path: Path | str, layout: str, detail: str = ""):
        self.corpus, self.path, self.layout = corpus, Path(path), layout
        msg = (f"{corpus}: no corpus found at {path}" + (f" ({detail})" if detail else "")
               + f".\nExpected layout under that folder:\n{layout}\n"
               "Set SERCORE_DATA (or --data-root) to the folder that holds one sub-folder per corpus.")
        super().__init__(msg)


class CorruptFileError(ValueError):
    """A file exists but cannot be read or is empty / wrongly formatted."""

    def __init__(self, path: Path | str, reason: str):
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


class SkipLog:
    """Collects files skipped on request (``on_error='skip'``); never silent.

    ``on_error='raise'`` (the default everywhere) re-raises instead.
    """

    def __init__(self, on_error: str = "raise"):
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.items: list[tuple[str, str]] = []

    def handle(self, exc: CorruptFileError) -> None:
        if self.on_error == "raise":
            raise exc
        self.items.append((str(exc.path), exc.reason))

    def report(self) -> str:
        if not self.items:
            return "0 files skipped"
        lines = [f"{len(self.items)} file(s) skipped:"] + [f"  {p}: {r}" for p, r in self.items]
        return "\n".join(lines)
