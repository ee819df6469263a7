"""Feature layer: audio I/O, spectral features, LTPP, pretrained encoders and a shared cache.

Typical use::

    from sercore.features import extract, get_extractor
    feats = extract(manifest, "mfcc", n_mfcc=26, n_fft=2048, hop_length=512, n_mels=128,
                    seg_s=1.8, seg_hop_s=0.2)          # list of (n_seg, 26, 57) arrays
    feats.stats                                         # hits / misses / seconds

Modules
-------
:mod:`.audio`      ``load_audio``, ``clip_or_pad``, ``segment``
:mod:`.spectral`   ``log_mel``, ``mfcc``, ``deltas``, ``stack_deltas``
:mod:`.ltpp`       ``ltpp``, ``ltpp_audio`` (MCWSA-CMHA's Large-scale Temporal Pyramid Pooling)
:mod:`.encoders`   ``SSLAudioEncoder``, ``TextEncoder``, ``default_text_encoder``, ``GE2EEncoder``
:mod:`.cache`      ``FeatureCache`` (content-addressed ``.npy`` files), ``file_sha1``
:mod:`.extractors` the registry (``get_extractor``, ``available``) and ``extract``
:mod:`.word2vec`   ``word_vectors`` (word2vec via gensim, or MiniLM states projected to 300-d)
:mod:`.video`      ``read_frames``, ``frame_features`` (ResNet-50, or the randproj / gradproj stand-ins)

Encoders (and transformers) are imported only when an encoder is first used.
"""
from .audio import AudioLoadError, clip_or_pad, load_audio, segment
from .cache import FeatureCache, file_sha1
from .extractors import (REGISTRY, ExtractStats, Extractor, FeatureList, available, extract,
                         get_extractor, last_stats)
from .ltpp import AUDIO_LEVELS, TEXT_LEVELS, VIDEO_LEVELS, ltpp, ltpp_audio, ltpp_rows
from .spectral import deltas, log_mel, mfcc, stack_deltas

__all__ = [
    "AudioLoadError", "load_audio", "clip_or_pad", "segment",
    "log_mel", "mfcc", "deltas", "stack_deltas",
    "ltpp", "ltpp_audio", "ltpp_rows", "AUDIO_LEVELS", "TEXT_LEVELS", "VIDEO_LEVELS",
    "FeatureCache", "file_sha1",
    "REGISTRY", "Extractor", "ExtractStats", "FeatureList", "available", "get_extractor",
    "extract", "last_stats",
]
