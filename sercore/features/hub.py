"""Named pretrained checkpoints: is the one a run names loadable here, before any work starts?

A params file may name a Hugging Face checkpoint (``encoder: facebook/wav2vec2-base``,
``text_model: roberta-large``, ``audio_model: facebook/wav2vec2-xls-r-300m``). On a machine without
network and without that model in its local cache, loading it fails only when the chapter reaches
feature extraction, minutes into a run. :func:`check_checkpoints` is called by ``sercore run``
before the notebook starts, and stops with one message naming the model, where it looked and what
to do instead.
"""
from __future__ import annotations

import os
from pathlib import Path

#: parameter keys that name a Hugging Face checkpoint (a hub name or a local folder)
CHECKPOINT_KEYS = ("encoder", "audio_model", "text_model")

#: the offline stand-in a user can choose instead, per key
STAND_INS = {
    "encoder": "set `encoder: null` and `mode: frozen` (the GE2E stand-in, docs/contracts.md#offline-stand-ins)",
    "audio_model": "set `audio_feature: ge2e` (the GE2E stand-in)",
    "text_model": "set `text_feature: minilm` (the MiniLM stand-in)",
}


#: a key is read only when another key has this value (MLCCT: ``audio_feature: ssl``)
_USED_WHEN = {"audio_model": ("audio_feature", "ssl"), "text_model": ("text_feature", "text")}


class CheckpointUnavailableError(RuntimeError):
    """A named checkpoint cannot be loaded on this machine."""


def _cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def locate(name: str) -> str:
    """Where ``name`` (a hub id or a local folder) would be loaded from; raise
    :class:`CheckpointUnavailableError` when neither a folder, the local cache nor the hub has it."""
    folder = Path(name).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise CheckpointUnavailableError(f"{folder} is a folder without config.json: not a Hugging Face "
                                             "checkpoint (write one with model.save_pretrained(folder))")
        return str(folder.resolve())
    if os.sep in name and (name.startswith((".", "/", "~")) or name.count("/") > 1):
        raise CheckpointUnavailableError(f"no folder {folder.resolve()}")
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(name, "config.json")
    except Exception:         # an id the hub would refuse (bad characters): the load below says why
        cached = None
    if isinstance(cached, str):
        return cached
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise CheckpointUnavailableError(f"not in the local cache {_cache_dir()}, and HF_HUB_OFFLINE is set")
    from huggingface_hub import constants, hf_hub_download

    if not _reachable(constants.ENDPOINT):
        raise CheckpointUnavailableError(f"not in the local cache {_cache_dir()}, and {constants.ENDPOINT} "
                                         "cannot be reached from this machine")
    try:
        return hf_hub_download(name, "config.json", etag_timeout=5)
    except Exception as e:
        raise CheckpointUnavailableError(f"not in the local cache {_cache_dir()}, and the hub could not be "
                                         f"reached or does not have it ({type(e).__name__})") from None


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``url``'s host opens within ``timeout`` seconds (no retries)."""
    import socket
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def check_checkpoints(params: dict, source: str = "") -> dict:
    """``{key: where}`` for every checkpoint ``params`` names (keys in :data:`CHECKPOINT_KEYS` with a
    value); one :class:`CheckpointUnavailableError` for the first that cannot be loaded, saying
    which model, where it looked, and how to point the key at a local folder or use the stand-in."""
    found = {}
    for key in CHECKPOINT_KEYS:
        name = params.get(key)
        if not name or params.get(_USED_WHEN.get(key, ("", None))[0]) not in (None, _USED_WHEN[key][1]) \
                if key in _USED_WHEN else not name:
            continue
        try:
            found[key] = locate(str(name))
        except CheckpointUnavailableError as e:
            where = f" ({source})" if source else ""
            raise CheckpointUnavailableError(
                f"{key}: {name!r}{where} cannot be loaded: {e}. Download it on a machine with network "
                f"(`huggingface-cli download {name}` or `AutoModel.from_pretrained('{name}')"
                f".save_pretrained(FOLDER)`), then run with `--set {key}=FOLDER`; or {STAND_INS[key]}."
            ) from None
    return found
