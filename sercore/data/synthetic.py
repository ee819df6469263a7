"""The embedded synthetic corpus: acted emotions spoken by espeak-ng, with text and face frames.

It is the default corpus wherever no real corpus is present, so every notebook of the book runs
on it. Everything is generated offline, deterministically from ``seed``, and cached.

What is generated
-----------------
- **Languages** ``en``, ``de``, ``it``, ``ur`` (the cross-language paper's four), each with its
  own sentence pool written for this corpus (Urdu in Urdu script, which espeak-ng's ``ur`` voice
  reads).
- **Speakers**: ``speakers_per_language`` per language (default 10), ids ``en_s01`` ... ``en_s10``,
  alternating female / male (odd numbers F, even numbers M). Each speaker is an espeak-ng voice
  variant (``f1``..``f5``, ``m1``..``m4``, ``m6``) with its own pitch, rate, range, voice
  quality, expressiveness, recording level and noise floor. ``session`` pairs them like IEMOCAP's five
  sessions of two speakers: speakers 1-2 are session 1, ..., 9-10 session 5 (an ``int``).
- **Emotions**: ``neutral``, ``happy``, ``sad``, ``angry`` by default; ``fear``, ``disgust``,
  ``surprise`` and ``boredom`` are available for 6/7-class settings. Each emotion is a prosody
  profile (:data:`PROFILES`: speaking rate, pitch, pitch range, loudness, pauses, voice
  quality). Every utterance
  draws its own emotional intensity and jitter and every speaker has its own expressiveness, so
  classes overlap: a plain MFCC baseline is well above chance but far from perfect.
- **Audio**: espeak-ng output (22,050 Hz) with the profile's voice quality (spectral tilt,
  harshness, breathiness), set to the speaker's and emotion's loudness, padded with silence,
  resampled to 16 kHz mono, mixed with coloured background noise at a random SNR and written
  as 16-bit wav. Each utterance is spoken by a fresh espeak-ng instance, so files are
  byte-identical from run to run (see :class:`_Espeak`).
- **Text**: a neutral carrier sentence; a share ``text_cue_share`` of utterances adds an
  emotion-bearing phrase, of which ``misleading_share`` belong to another emotion. Text helps but
  does not solve the task.
- **Video**: one stream of 48x48 grey face frames per utterance at :data:`VIDEO_FPS` frames per
  second of audio, saved as ``uint8`` ``.npy`` of shape ``(frames, 48, 48)``. The expression
  (mouth curvature and opening, brow tilt and height, eye openness) follows the label at a random
  intensity; the face's size, position and brightness are speaker traits; head motion, blinks,
  talking and pixel noise vary per frame.

Cache layout
------------
``root/<hash of the settings>/`` holds ``wav/<speaker>/<utt_id>.wav``,
``video/<speaker>/<utt_id>.npy``, ``settings.json`` and ``manifest.csv`` (paths relative to the
folder, written last through a temporary name). A later :func:`load` with the same settings only
reads the manifest.

The numbers measured on this corpus check that a pipeline works; they are not comparable with
any paper.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import threading
import time
import warnings
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ..paths import atomic_write
from ..paths import show_progress
from ..registry import Corpus
from .errors import SkipLog
from .labels import LabelMap
from .manifest import COLUMNS, make_manifest

DIRNAME = "synthetic"

LAYOUT = (
    "generated, not read: <cache>/synthetic/<settings hash>/\n"
    "  wav/<speaker>/<utt_id>.wav     16 kHz mono 16-bit speech, e.g. wav/en_s01/en_s01_hap_00.wav\n"
    "  video/<speaker>/<utt_id>.npy   uint8 face frames (frames, 48, 48) at 10 frames/s\n"
    "  settings.json  manifest.csv\n"
    "4 languages (en, de, it, ur) x 10 speakers (5 F, 5 M; 5 sessions of 2) x 4 emotions "
    "(neutral, happy, sad, angry; fear, disgust, surprise, boredom on request)"
)

#: the synthetic corpus's own label setting (sercore.data.labels.LabelMap); its runs mostly use ser4
SYNTHETIC7 = LabelMap("synthetic7", ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise"), {},
                      "Synthetic corpus, 7 classes.")

NOTE = ("Synthetic corpus (espeak-ng speech with scripted prosody profiles, template text and "
        "drawn faces): it checks that the pipeline works; its numbers are not comparable with "
        "any paper.")

#: bump when a change to this module changes what is generated (it is part of the cache key)
GENERATOR_VERSION = 2

SAMPLE_RATE = 16_000
#: RMS level of a neutral utterance of an average speaker, in dB re full scale
TARGET_DBFS = -24.0
VIDEO_FPS = 10
FRAME_SIZE = 48

LANGUAGES: tuple[str, ...] = ("en", "de", "it", "ur")
SUPPORTED_EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry",
                                       "fear", "disgust", "surprise", "boredom")
DEFAULT_EMOTIONS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")
DEFAULT_UTTERANCES = 5          # per speaker and emotion: 4 x 10 x 4 x 5 = 800 utterances
DEFAULT_TEXT_CUE_SHARE = 0.35
DEFAULT_MISLEADING_SHARE = 0.15

_FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5")
_MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6")


# --------------------------------------------------------------------------- emotion profiles

@dataclass(frozen=True)
class Prosody:
    """How an emotion is spoken, relative to the speaker's neutral voice.

    rate:   speaking-rate factor (1 = neutral)
    pitch:  shift of espeak-ng's pitch parameter (0-100 scale, 0 = neutral)
    range:  pitch-range factor (1 = neutral)
    volume: loudness factor on the signal's amplitude (1 = neutral)
    pause:  probability of a pause between two words
    pause_ms: mean pause length in milliseconds
    tilt:   voice quality as spectral tilt: + tense, bright (more high frequencies),
            - lax, dull (fewer); 0 = neutral
    drive:  harshness: soft-clipping drive (0 = none, 3 = strongly pressed voice)
    breath: breathiness: aspiration noise following the speech envelope (0 = none)
    """

    rate: float
    pitch: float
    range: float
    volume: float
    pause: float
    pause_ms: float
    tilt: float
    drive: float = 0.0
    breath: float = 0.0


#: prosody profile of each emotion (scaled by speaker expressiveness and utterance intensity)
PROFILES: dict[str, Prosody] = {
    "neutral": Prosody(rate=1.00, pitch=0.0, range=1.00, volume=1.00,
                      pause=0.04, pause_ms=150, tilt=0.0),
    "happy": Prosody(rate=1.15, pitch=18.0, range=1.90, volume=1.30,
                    pause=0.03, pause_ms=120, tilt=0.6, drive=0.8),
    "sad": Prosody(rate=0.75, pitch=-15.0, range=0.30, volume=0.60,
                  pause=0.15, pause_ms=300, tilt=-0.9, breath=0.35),
    "angry": Prosody(rate=1.20, pitch=8.0, range=1.50, volume=1.90,
                    pause=0.05, pause_ms=120, tilt=1.4, drive=3.0),
    "fear": Prosody(rate=1.30, pitch=25.0, range=0.70, volume=0.85,
                   pause=0.15, pause_ms=180, tilt=0.3, breath=0.3),
    "disgust": Prosody(rate=0.80, pitch=-10.0, range=0.90, volume=1.00,
                      pause=0.12, pause_ms=280, tilt=-0.4, drive=0.8, breath=0.1),
    "surprise": Prosody(rate=1.10, pitch=28.0, range=2.20, volume=1.30,
                       pause=0.05, pause_ms=150, tilt=0.6, drive=0.8),
    "boredom": Prosody(rate=0.80, pitch=-12.0, range=0.20, volume=0.75,
                      pause=0.10, pause_ms=250, tilt=-0.7, breath=0.15),
}


@dataclass(frozen=True)
class Face:
    """Facial expression of an emotion at full intensity (neutral face = all zero, eye_open 0.5).

    mouth_curve: + smile, - frown       mouth_open: 0 closed .. 1 wide open
    brow_tilt:   + inner ends raised (sad, fear), - inner ends lowered (angry)
    brow_raise:  + brows up, - brows down    eye_open: 0 shut .. 1 wide open
    """

    mouth_curve: float
    mouth_open: float
    brow_tilt: float
    brow_raise: float
    eye_open: float


#: facial expression of each emotion
FACES: dict[str, Face] = {
    "neutral":  Face(mouth_curve=0.0, mouth_open=0.1, brow_tilt=0.0, brow_raise=0.0, eye_open=0.5),
    "happy":    Face(mouth_curve=0.9, mouth_open=0.3, brow_tilt=0.0, brow_raise=0.1, eye_open=0.35),
    "sad":      Face(mouth_curve=-0.7, mouth_open=0.05, brow_tilt=0.8, brow_raise=0.0, eye_open=0.3),
    "angry":    Face(mouth_curve=-0.3, mouth_open=0.25, brow_tilt=-0.9, brow_raise=-0.4, eye_open=0.65),
    "fear":     Face(mouth_curve=-0.2, mouth_open=0.45, brow_tilt=0.6, brow_raise=0.6, eye_open=0.95),
    "disgust":  Face(mouth_curve=-0.5, mouth_open=0.15, brow_tilt=-0.4, brow_raise=-0.2, eye_open=0.3),
    "surprise": Face(mouth_curve=0.0, mouth_open=0.8, brow_tilt=0.2, brow_raise=0.9, eye_open=1.0),
    "boredom":  Face(mouth_curve=-0.1, mouth_open=0.0, brow_tilt=0.0, brow_raise=-0.2, eye_open=0.2),
}


# --------------------------------------------------------------------------- sentence pools
# Carrier sentences say nothing about emotion; cue phrases do. A cue given as a (male, female)
# pair is gendered in that language and follows the speaker's gender.

SENTENCES: dict[str, dict] = {
    "en": {
        "sep": ". ", "end": ".",
        "carriers": [
            "The train leaves from the second platform at noon",
            "We moved the table next to the window yesterday",
            "The report is on the desk in the other room",
            "She said the meeting starts after lunch",
            "There are three boxes left in the hallway",
            "He opened the door and walked to the car",
            "The shop on the corner closes at six",
            "I read the letter again this morning",
            "They painted the fence a different colour",
            "The bus was late on Tuesday",
            "My brother is coming home this weekend",
            "The keys are in the kitchen drawer",
        ],
        "cues": {
            "neutral": ["as usual", "just as planned", "nothing special", "it is the normal routine"],
            "happy": ["this is wonderful", "I am so glad", "what a lovely day", "I really love it"],
            "sad": ["I miss them so much", "this is so sad", "I feel so lonely", "it breaks my heart"],
            "angry": ["this is outrageous", "I am furious", "stop it right now", "I hate this"],
            "fear": ["I am scared", "something terrible will happen", "please help me", "I am afraid"],
            "disgust": ["that is disgusting", "it smells awful", "how revolting", "it makes me sick"],
            "surprise": ["I cannot believe it", "what a surprise", "really, no way", "oh, all of a sudden"],
            "boredom": ["this is so boring", "the same thing again and again", "I am tired of waiting",
                        "how dull"],
        },
    },
    "de": {
        "sep": ". ", "end": ".",
        "carriers": [
            "Der Zug fährt um zwölf Uhr vom zweiten Gleis ab",
            "Wir haben den Tisch gestern ans Fenster gestellt",
            "Der Bericht liegt auf dem Schreibtisch im anderen Zimmer",
            "Sie sagte, die Besprechung beginnt nach dem Mittagessen",
            "Im Flur stehen noch drei Kisten",
            "Er öffnete die Tür und ging zum Auto",
            "Der Laden an der Ecke schließt um sechs",
            "Ich habe den Brief heute Morgen noch einmal gelesen",
            "Sie haben den Zaun in einer anderen Farbe gestrichen",
            "Der Bus hatte am Dienstag Verspätung",
            "Mein Bruder kommt am Wochenende nach Hause",
            "Die Schlüssel liegen in der Küchenschublade",
        ],
        "cues": {
            "neutral": ["wie immer", "wie geplant", "nichts Besonderes", "das ist die übliche Routine"],
            "happy": ["das ist wunderbar", "ich freue mich so", "was für ein schöner Tag", "ich liebe es"],
            "sad": ["ich vermisse sie so sehr", "das ist so traurig", "ich fühle mich so einsam",
                    "es bricht mir das Herz"],
            "angry": ["das ist unerhört", "ich bin wütend", "hör sofort damit auf", "ich hasse das"],
            "fear": ["ich habe Angst", "gleich passiert etwas Schreckliches", "bitte hilf mir",
                     "ich fürchte mich"],
            "disgust": ["das ist ekelhaft", "es stinkt furchtbar", "wie widerlich", "mir wird schlecht davon"],
            "surprise": ["das glaube ich nicht", "was für eine Überraschung", "wirklich, unmöglich",
                         "oh, ganz plötzlich"],
            "boredom": ["das ist so langweilig", "immer wieder dasselbe", "ich habe keine Lust mehr zu warten",
                        "wie öde"],
        },
    },
    "it": {
        "sep": ". ", "end": ".",
        "carriers": [
            "Il treno parte dal secondo binario a mezzogiorno",
            "Ieri abbiamo spostato il tavolo vicino alla finestra",
            "Il rapporto è sulla scrivania nell'altra stanza",
            "Ha detto che la riunione comincia dopo pranzo",
            "Nel corridoio ci sono ancora tre scatole",
            "Ha aperto la porta ed è andato alla macchina",
            "Il negozio all'angolo chiude alle sei",
            "Stamattina ho letto di nuovo la lettera",
            "Hanno dipinto il recinto di un altro colore",
            "Martedì l'autobus era in ritardo",
            "Mio fratello torna a casa questo fine settimana",
            "Le chiavi sono nel cassetto della cucina",
        ],
        "cues": {
            "neutral": ["come sempre", "come previsto", "niente di speciale", "è la solita routine"],
            "happy": ["è meraviglioso", ("sono così contento", "sono così contenta"), "che bella giornata",
                      "mi piace tantissimo"],
            "sad": ["mi mancano tanto", "è così triste", ("mi sento così solo", "mi sento così sola"),
                    "mi si spezza il cuore"],
            "angry": ["è inaccettabile", ("sono furioso", "sono furiosa"), "smettila subito", "lo odio"],
            "fear": ["ho paura", "succederà qualcosa di terribile", "aiutami, ti prego",
                     ("sono spaventato", "sono spaventata")],
            "disgust": ["che schifo", "puzza in modo orribile", "è disgustoso", "mi fa venire la nausea"],
            "surprise": ["non ci posso credere", "che sorpresa", "davvero, impossibile",
                         "oh, all'improvviso"],
            "boredom": ["che noia", "sempre la stessa cosa", ("sono stanco di aspettare",
                                                              "sono stanca di aspettare"),
                        "è così noioso"],
        },
    },
    "ur": {
        "sep": "۔ ", "end": "۔",
        "carriers": [
            "ٹرین دوپہر کو دوسرے پلیٹ فارم سے روانہ ہوتی ہے",
            "ہم نے کل میز کھڑکی کے پاس رکھ دی",
            "رپورٹ دوسرے کمرے میں میز پر پڑی ہے",
            "اس نے کہا کہ میٹنگ دوپہر کے کھانے کے بعد شروع ہوگی",
            "راہداری میں ابھی تین ڈبے باقی ہیں",
            "اس نے دروازہ کھولا اور گاڑی کی طرف چلا گیا",
            "کونے والی دکان چھ بجے بند ہوتی ہے",
            "میں نے آج صبح خط دوبارہ پڑھا",
            "انہوں نے باڑ کو دوسرے رنگ سے رنگ دیا",
            "منگل کو بس دیر سے آئی",
            "میرا بھائی اس ہفتے کے آخر میں گھر آ رہا ہے",
            "چابیاں باورچی خانے کی دراز میں ہیں",
        ],
        "cues": {
            "neutral": ["ہمیشہ کی طرح", "منصوبے کے مطابق", "کوئی خاص بات نہیں", "یہ معمول کی بات ہے"],
            "happy": ["یہ بہت اچھا ہے", "میں بہت خوش ہوں", "کتنا خوبصورت دن ہے", "مجھے یہ بہت پسند ہے"],
            "sad": ["مجھے ان کی بہت یاد آتی ہے", "یہ بہت افسوسناک ہے", "میں بہت اداس ہوں", "میرا دل ٹوٹ گیا ہے"],
            "angry": ["یہ ناقابل برداشت ہے", "مجھے بہت غصہ ہے", "ابھی بند کرو", "مجھے اس سے نفرت ہے"],
            "fear": ["مجھے ڈر لگ رہا ہے", "کچھ برا ہونے والا ہے", "میری مدد کرو", "میں بہت خوفزدہ ہوں"],
            "disgust": ["یہ بہت گندا ہے", "اس کی بو بہت بری ہے", "کتنا گھناؤنا ہے", "مجھے اس سے گھن آتی ہے"],
            "surprise": ["مجھے یقین نہیں آ رہا", "کیا حیرت کی بات ہے", "واقعی، ناممکن", "یہ اچانک کیسے ہوا"],
            "boredom": ["یہ بہت بورنگ ہے", "وہی پرانی بات بار بار",
                        ("میں انتظار کرتے کرتے تھک گیا ہوں", "میں انتظار کرتے کرتے تھک گئی ہوں"),
                        "کتنی اکتا دینے والی بات ہے"],
        },
    },
}


# --------------------------------------------------------------------------- espeak-ng

class EspeakUnavailableError(RuntimeError):
    """espeak-ng (through the ``espeakng-loader`` package) cannot be loaded or used."""


_INSTALL_HINT = ("The synthetic corpus speaks through espeak-ng, shipped by the PyPI package "
                 "'espeakng-loader' (library and voice data included). Install it into this "
                 "environment with:  pip install espeakng-loader==0.2.4  (or `pip install -e .` "
                 "in the repository, which pins it).")

# espeak-ng's C API (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8, _SSML = 0x01, 0x10
_P_RATE, _P_VOLUME, _P_PITCH, _P_RANGE, _P_WORDGAP = 1, 2, 3, 4, 7
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.c_void_p)


def _libc():
    """The C library of this process (espeak-ng draws voicing noise from its ``rand()``)."""
    libc = ctypes.CDLL(None)
    libc.srand.argtypes = [ctypes.c_uint]
    return libc


def _espeak_paths() -> tuple[Path, Path]:
    """(library file, voice-data folder) shipped by ``espeakng-loader``; raises with the install hint."""
    try:
        import espeakng_loader
    except ImportError as e:
        raise EspeakUnavailableError(f"Python package 'espeakng_loader' is missing ({e}). "
                                     + _INSTALL_HINT) from None
    lib = Path(espeakng_loader.get_library_path())
    if not lib.is_file():
        raise EspeakUnavailableError(f"the espeak-ng library {lib} is missing. " + _INSTALL_HINT)
    try:
        data = Path(espeakng_loader.get_data_path())
    except RuntimeError as e:
        raise EspeakUnavailableError(f"espeak-ng voice data missing: {e}. " + _INSTALL_HINT) from None
    return lib, data


class _Espeak:
    """A fresh espeak-ng instance for one utterance (use as a context manager).

    espeak-ng keeps state between utterances that no API call resets (e.g. the phase of its
    pitch flutter), so the same call would give slightly different audio depending on what was
    spoken before. For byte-identical output every utterance gets its own instance: a private
    copy of the library (so that no other user in the process pins it) is loaded, initialised,
    used once and unloaded again (about half a millisecond). Its own random generator and
    libc's ``rand()`` (used for voicing noise) are seeded per utterance.
    """

    _lock = threading.Lock()          # espeak-ng's C state is global: one instance at a time
    _private: Path | None = None      # the private copy of the library, made once per process
    _chunks: list[np.ndarray] = []
    _checked_unload = False

    @staticmethod
    def _collect(wav, n, _events):
        if n > 0:
            _Espeak._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    _callback = _CALLBACK(_collect)   # module lifetime: the C side holds the pointer

    @classmethod
    def _library_copy(cls) -> Path:
        if cls._private is None or not cls._private.is_file():
            import atexit
            import shutil
            import tempfile
            lib, _ = _espeak_paths()
            tmp = Path(tempfile.mkdtemp(prefix="sercore-espeak-"))
            atexit.register(shutil.rmtree, tmp, True)
            cls._private = tmp / lib.name
            shutil.copyfile(lib, cls._private)
        return cls._private

    def __enter__(self) -> "_Espeak":
        _Espeak._lock.acquire()
        try:
            self._open()
        except BaseException:
            _Espeak._lock.release()
            raise
        return self

    def _open(self) -> None:
        _, data_path = _espeak_paths()
        path = self._library_copy()
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as e:
            raise EspeakUnavailableError(f"cannot load the espeak-ng library ({path}, a copy of "
                                         f"{_espeak_paths()[0]}): {e}. " + _INSTALL_HINT) from None
        if not hasattr(lib, "espeak_ng_SetRandSeed"):
            raise EspeakUnavailableError(f"the espeak-ng library {_espeak_paths()[0]} lacks "
                                         "espeak_ng_SetRandSeed (needed for reproducible output; "
                                         "espeak-ng >= 1.52). " + _INSTALL_HINT)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        self.lib = lib
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path).encode(), 0)
        if rate <= 0:
            self._unload()
            raise EspeakUnavailableError(f"espeak-ng failed to initialise with data {data_path} "
                                         f"(returned {rate}). " + _INSTALL_HINT)
        self.sample_rate = int(rate)
        self.version = (lib.espeak_Info(None) or b"?").decode()
        lib.espeak_SetSynthCallback(_Espeak._callback)

    def _unload(self) -> None:
        import _ctypes
        _ctypes.dlclose(self.lib._handle)
        del self.lib
        if not _Espeak._checked_unload and Path("/proc/self/maps").is_file():
            # a library that stays mapped keeps its state: output would depend on history
            if str(self._private) in Path("/proc/self/maps").read_text():
                raise RuntimeError(f"{self._private} stayed loaded after dlclose; espeak-ng output "
                                   "would not be reproducible")
            _Espeak._checked_unload = True

    def __exit__(self, *exc) -> None:
        try:
            self.lib.espeak_Terminate()
            self._unload()
        finally:
            _Espeak._chunks = []
            _Espeak._lock.release()

    def synth(self, voice: str, ssml: str, *, rate: int, pitch: int, pitch_range: int,
              volume: int, wordgap: int = 0, rand_seed: int = 0) -> np.ndarray:
        """Speak SSML text with ``voice`` (``"en+f3"``); returns int16 samples, shape ``(n,)``."""
        seed = int(rand_seed) & 0x7FFFFFFF
        self.lib.espeak_ng_SetRandSeed(seed)
        _libc().srand(seed)
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise EspeakUnavailableError(f"espeak-ng has no voice {voice!r} in this installation. "
                                         + _INSTALL_HINT)
        for par, val in ((_P_RATE, rate), (_P_VOLUME, volume), (_P_PITCH, pitch),
                         (_P_RANGE, pitch_range), (_P_WORDGAP, wordgap)):
            self.lib.espeak_SetParameter(par, int(val), 0)
        _Espeak._chunks = []
        data = ssml.encode("utf-8")
        err = self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _CHARS_UTF8 | _SSML, None, None)
        self.lib.espeak_Synchronize()
        chunks, _Espeak._chunks = _Espeak._chunks, []
        if err != 0 or not chunks:
            raise RuntimeError(f"espeak-ng produced no audio (error code {err}) for voice {voice!r} "
                               f"and text {ssml!r}")
        return np.concatenate(chunks)


def espeak_version() -> str:
    """Version string of the espeak-ng library (loads it once)."""
    with _Espeak() as es:
        return es.version


# --------------------------------------------------------------------------- planning

def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names (not on the other settings)."""
    return np.random.default_rng(np.random.SeedSequence([seed] + [zlib.crc32(k.encode()) for k in keys]))


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: espeak voice and the traits drawn for it."""

    id: str
    language: str
    gender: str
    session: int
    voice: str
    pitch: float          # espeak pitch parameter of the neutral voice (0-100)
    rate: float           # words per minute of the neutral voice
    range: float          # espeak pitch-range parameter of the neutral voice (0-100)
    expressiveness: float  # scales every emotional deviation
    tilt: float           # voice-quality offset (see Prosody.tilt)
    gain_db: float        # recording level, dB around TARGET_DBFS
    snr_db: float         # typical signal-to-noise ratio of this speaker's recordings
    face_size: float      # face half-height in pixels
    face_x: float         # face centre, pixels
    face_y: float
    skin: float           # face grey level
    background: float     # background grey level


def make_speakers(language: str, n: int, seed: int = 0) -> list[Speaker]:
    """The ``n`` speakers of one language, alternating F/M, two per session."""
    out = []
    for i in range(n):
        r = _rng(seed, "speaker", language, str(i))
        female = i % 2 == 0
        variants = _FEMALE_VARIANTS if female else _MALE_VARIANTS
        out.append(Speaker(
            id=f"{language}_s{i + 1:02d}", language=language, gender="F" if female else "M",
            session=i // 2 + 1, voice=f"{language}+{variants[(i // 2) % len(variants)]}",
            pitch=float(np.clip(50 + r.normal(0, 10), 20, 80)),
            rate=float(165 * np.exp(r.normal(0, 0.08))),
            range=float(np.clip(50 + r.normal(0, 8), 25, 75)),
            expressiveness=float(r.uniform(0.55, 1.2)),
            tilt=float(r.normal(0, 0.2)),
            gain_db=float(r.normal(0, 3)),
            snr_db=float(r.uniform(12, 28)),
            face_size=float(r.uniform(15, 20)),
            face_x=float(24 + r.uniform(-3, 3)),
            face_y=float(24 + r.uniform(-3, 3)),
            skin=float(r.uniform(120, 200)),
            background=float(r.uniform(20, 90)),
        ))
    return out


def _pick_text(r: np.random.Generator, language: str, emotion: str, gender: str,
               emotions: tuple[str, ...], cue_share: float, misleading_share: float
               ) -> tuple[str, list[str], str | None]:
    """Sentence text, its parts (for pauses) and the emotion of its cue phrase (or ``None``)."""
    pool = SENTENCES[language]
    carrier = pool["carriers"][r.integers(len(pool["carriers"]))]
    cue_emotion = None
    if r.random() < cue_share:
        cue_emotion = emotion
        if len(emotions) > 1 and r.random() < misleading_share:
            others = [e for e in emotions if e != emotion]
            cue_emotion = others[r.integers(len(others))]
    parts = [carrier]
    if cue_emotion is not None:
        cues = pool["cues"][cue_emotion]
        cue = cues[r.integers(len(cues))]
        if isinstance(cue, tuple):
            cue = cue[0] if gender == "M" else cue[1]
        parts = [cue, carrier] if r.random() < 0.5 else [carrier, cue]
    parts = [p[:1].upper() + p[1:] for p in parts]      # each part is a sentence
    text = pool["sep"].join(parts) + pool["end"]
    return text, parts, cue_emotion


def _ssml(language: str, parts: list[str], r: np.random.Generator, prosody: Prosody,
          intensity: float) -> str:
    """SSML for espeak-ng: the text with the profile's pauses as ``<break>`` elements."""
    pool = SENTENCES[language]
    pause_p = prosody.pause * (0.5 + intensity)
    pieces = []
    for j, part in enumerate(parts):
        words = part.split()
        seg = [escape(words[0])]
        for w in words[1:]:
            if r.random() < pause_p:
                ms = int(prosody.pause_ms * r.uniform(0.5, 1.5))
                seg.append(f'<break time="{ms}ms"/>')
            seg.append(escape(w))
        pieces.append(" ".join(seg) + (pool["sep"].strip() if j < len(parts) - 1 else pool["end"]))
    return "<speak>" + " ".join(pieces) + "</speak>"


# --------------------------------------------------------------------------- audio

def _resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling, float64 ``(n,)`` -> float64 ``(m,)``."""
    from math import gcd

    from scipy.signal import resample_poly
    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g)


def _tilt(x: np.ndarray, amount: float) -> np.ndarray:
    """Spectral tilt, shape-preserving: ``amount`` > 0 adds high frequencies, < 0 removes them.

    The high band is ``x`` minus a one-pole low-pass of it (corner near 1.5 kHz at 22,050 Hz);
    ``amount = -1`` leaves the low-pass only.
    """
    from scipy.signal import lfilter
    a = 0.65
    low = lfilter([1 - a], [1.0, -a], x)
    return x + float(np.clip(amount, -1.0, 3.0)) * (x - low)


def _active_rms(x: np.ndarray, sr: int) -> float:
    """RMS over the 20 ms frames within 30 dB of the loudest one (pauses left out)."""
    win = max(1, int(0.02 * sr))
    n = max(1, len(x) // win)
    frames = np.mean(x[:n * win].reshape(n, win) ** 2, axis=1) if len(x) >= win else np.mean(x ** 2)[None]
    active = frames[frames >= frames.max() * 1e-3]
    return float(np.sqrt(np.mean(active)) + 1e-12)


def _drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Soft clipping ``tanh(g x) / tanh(g)`` at the signal's peak (harsh, pressed voice), same shape."""
    g = float(amount)
    if g <= 1e-3:
        return x
    peak = np.max(np.abs(x)) + 1e-12
    return np.tanh(g * x / peak) / np.tanh(g) * peak


def _breath(x: np.ndarray, amount: float, r: np.random.Generator, sr: int) -> np.ndarray:
    """Adds high-passed noise shaped by the 20 ms RMS envelope of ``x`` (breathy voice), same shape."""
    if amount <= 1e-3:
        return x
    from scipy.signal import lfilter
    win = max(1, int(0.02 * sr))
    env = np.sqrt(np.convolve(x ** 2, np.ones(win) / win, mode="same"))
    w = r.standard_normal(len(x))
    hp = w - lfilter([0.3], [1.0, -0.7], w)
    return x + float(amount) * env * hp


def _noise(r: np.random.Generator, n: int) -> np.ndarray:
    """Coloured noise of unit power, shape ``(n,)``: white noise through a random one-pole low-pass."""
    from scipy.signal import lfilter
    a = r.uniform(0.0, 0.97)
    w = lfilter([1.0], [1.0, -a], r.standard_normal(n + 256))[256:]
    return w / (np.sqrt(np.mean(w ** 2)) + 1e-12)


def synthesize(spk: Speaker, emotion: str, ssml: str, r: np.random.Generator,
               intensity: float) -> np.ndarray:
    """One utterance at 16 kHz, float32 in [-1, 1], shape ``(samples,)``."""
    p = PROFILES[emotion]
    e = spk.expressiveness * intensity
    rate = spk.rate * (1 + e * (p.rate - 1)) * np.exp(r.normal(0, 0.06))
    pitch = spk.pitch + e * p.pitch + r.normal(0, 5)
    prange = spk.range * (1 + e * (p.range - 1)) * np.exp(r.normal(0, 0.15))
    # loudness: the emotion's factor in dB around the speaker's level, with jitter
    level_db = (TARGET_DBFS + spk.gain_db + 20 * np.log10(max(1 + e * (p.volume - 1), 0.05))
                + r.normal(0, 2))
    with _Espeak() as es:
        raw = es.synth(spk.voice, ssml, rate=int(np.clip(rate, 80, 400)),
                       pitch=int(np.clip(pitch, 0, 99)), pitch_range=int(np.clip(prange, 0, 99)),
                       volume=100, rand_seed=int(r.integers(2 ** 31)))
        sr_in = es.sample_rate
    x = raw.astype(np.float64) / 32768.0
    x = _drive(x, e * p.drive)
    x = _breath(x, e * p.breath, r, sr_in)
    x = _tilt(x, spk.tilt + e * p.tilt + r.normal(0, 0.15))
    x = x * 10 ** (level_db / 20) / _active_rms(x, sr_in)
    x = x * min(1.0, 0.9 / (np.max(np.abs(x)) + 1e-12))     # never clip: a peak limit of 0.9
    speech_power = np.mean(x ** 2) + 1e-12
    lead, tail = (int(sr_in * r.uniform(0.1, 0.3)) for _ in range(2))
    x = np.concatenate([np.zeros(lead), x, np.zeros(tail)])
    y = _resample(x, sr_in)
    snr = float(np.clip(spk.snr_db + r.normal(0, 4), 5, 40))
    y = y + _noise(r, len(y)) * np.sqrt(speech_power / 10 ** (snr / 10))
    return (y * min(1.0, 0.99 / (np.max(np.abs(y)) + 1e-12))).astype(np.float32)


# --------------------------------------------------------------------------- video

_YY, _XX = np.mgrid[0:FRAME_SIZE, 0:FRAME_SIZE].astype(np.float32)


def render_face(spk: Speaker, emotion: str, n_frames: int, r: np.random.Generator) -> np.ndarray:
    """Face frames for one utterance, uint8 of shape ``(n_frames, 48, 48)``.

    The expression is the emotion's :data:`FACES` entry at a random intensity (times the speaker's
    expressiveness), reached over the first frames; the mouth moves while talking, the eyes blink,
    the head drifts and every pixel gets Gaussian noise.
    """
    f = FACES[emotion]
    base = FACES["neutral"]
    intensity = float(np.clip(spk.expressiveness * r.uniform(0.3, 1.1), 0, 1.2))
    onset = max(1, int(r.integers(1, 6)))
    noise_sd = r.uniform(6, 14)
    talk_hz, talk_phase = r.uniform(2, 4), r.uniform(0, 2 * np.pi)
    cx, cy = spk.face_x, spk.face_y
    frames = np.empty((n_frames, FRAME_SIZE, FRAME_SIZE), np.uint8)
    s = spk.face_size
    dark = spk.skin * 0.3
    for t in range(n_frames):
        cx += r.normal(0, 0.4)
        cy += r.normal(0, 0.4)
        cx, cy = float(np.clip(cx, 18, 30)), float(np.clip(cy, 18, 30))
        k = intensity * min(1.0, (t + 1) / onset)

        def mix(attr):
            return getattr(base, attr) + k * (getattr(f, attr) - getattr(base, attr))

        u = (_XX - cx) / s           # face coordinates: u right, v down, face half-height 1
        v = (_YY - cy) / s
        img = np.full((FRAME_SIZE, FRAME_SIZE), spk.background, np.float32)
        head = (u / 0.8) ** 2 + v ** 2
        img = np.where(head <= 1, spk.skin, img)
        ink = np.zeros_like(img)       # 0 = skin, 1 = dark feature
        # eyes
        eye_open = mix("eye_open") * (0.15 if r.random() < 0.08 else 1.0)
        for side in (-1, 1):
            ex, ey = side * 0.36, -0.18
            d = ((u - ex) / 0.16) ** 2 + ((v - ey) / (0.02 + 0.12 * eye_open)) ** 2
            ink = np.maximum(ink, np.clip(1.5 - d, 0, 1))
            # brows: inner end (towards the nose) moves with tilt, the whole brow with raise
            tilt, raise_ = mix("brow_tilt"), mix("brow_raise")
            x0, x1 = side * 0.14, side * 0.58                      # inner, outer ends
            y_in = -0.42 - 0.12 * raise_ - 0.12 * tilt
            y_out = -0.42 - 0.12 * raise_ + 0.04 * tilt
            lo, hi = min(x0, x1), max(x0, x1)
            frac = np.clip((u - x0) / (x1 - x0), 0, 1)
            yb = y_in + frac * (y_out - y_in)
            inside = (u >= lo) & (u <= hi)
            ink = np.maximum(ink, inside * np.clip(1 - np.abs(v - yb) / 0.06, 0, 1))
        # mouth: lips are a parabola; + curve lowers the centre (smile), - raises it (frown)
        w = 0.38
        curve = mix("mouth_curve")
        talk = 0.12 * abs(np.sin(2 * np.pi * talk_hz * t / VIDEO_FPS + talk_phase))
        opening = np.clip(mix("mouth_open") + talk, 0, 1)
        inside = np.abs(u) <= w
        shape = np.clip(1 - (u / w) ** 2, 0, 1)
        upper = 0.48 + 0.16 * curve * shape - 0.08 * curve
        lower = upper + 0.2 * opening * shape
        ink = np.maximum(ink, inside * np.clip(1 - np.abs(v - upper) / 0.06, 0, 1))
        ink = np.maximum(ink, inside * np.clip(1 - np.abs(v - lower) / 0.06, 0, 1))
        ink = np.maximum(ink, inside * ((v > upper) & (v < lower)) * 0.8)
        img = np.where(head <= 1, img * (1 - ink) + dark * ink, img)
        img = img + r.normal(0, noise_sd, img.shape)
        frames[t] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return frames


# --------------------------------------------------------------------------- files and cache

def _write_wav(path: Path, y: np.ndarray) -> None:
    import soundfile as sf
    atomic_write(path, lambda p: sf.write(str(p), y, SAMPLE_RATE, subtype="PCM_16", format="WAV"))


def _write_npy(path: Path, a: np.ndarray) -> None:
    def w(p):
        with open(p, "wb") as fh:
            np.save(fh, a, allow_pickle=False)
    atomic_write(path, w)


def settings_hash(settings: dict) -> str:
    """Short stable hash (10 hex digits) of a JSON-able settings dict."""
    blob = json.dumps(settings, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _check_settings(languages, emotions, speakers_per_language, utterances_per_speaker_emotion,
                    seed, text_cue_share, misleading_share) -> dict:
    if isinstance(languages, str) or isinstance(emotions, str):
        raise ValueError(f"languages and emotions must be sequences of names, e.g. ('en', 'de'), "
                         f"got languages={languages!r}, emotions={emotions!r}")
    languages, emotions = tuple(languages), tuple(emotions)
    if not languages or set(languages) - set(LANGUAGES) or len(set(languages)) != len(languages):
        raise ValueError(f"languages must be distinct codes among {list(LANGUAGES)}, got {languages!r}")
    if not emotions or set(emotions) - set(SUPPORTED_EMOTIONS) or len(set(emotions)) != len(emotions):
        raise ValueError(f"emotions must be distinct names among {list(SUPPORTED_EMOTIONS)}, "
                         f"got {emotions!r}")
    for name, val in (("speakers_per_language", speakers_per_language),
                      ("utterances_per_speaker_emotion", utterances_per_speaker_emotion)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < 1:
            raise ValueError(f"{name} must be a positive int, got {val!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    for name, val in (("text_cue_share", text_cue_share), ("misleading_share", misleading_share)):
        if isinstance(val, bool) or not (isinstance(val, (int, float)) and 0.0 <= float(val) <= 1.0):
            raise ValueError(f"{name} must be a number in [0, 1], got {val!r}")
    return {"languages": list(languages), "emotions": list(emotions),
            "speakers_per_language": int(speakers_per_language),
            "utterances_per_speaker_emotion": int(utterances_per_speaker_emotion),
            "seed": int(seed), "text_cue_share": float(text_cue_share),
            "misleading_share": float(misleading_share)}


def _read_manifest(folder: Path) -> pd.DataFrame:
    """Read ``folder/manifest.csv`` back into a manifest with absolute paths."""
    raw = pd.read_csv(folder / "manifest.csv", dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{folder / 'manifest.csv'} lacks columns {missing}; expected {list(COLUMNS)}")
    records = []
    for row in raw.to_dict("records"):
        rec = {c: (row[c] if row[c] != "" else None) for c in COLUMNS}
        rec["session"] = int(rec["session"])
        rec["path"] = str(folder / rec["path"])
        if rec["video"] is not None:
            rec["video"] = str(folder / rec["video"])
        records.append(rec)
    df = make_manifest(records, root=folder, note=NOTE)
    df.attrs["synthetic"] = True
    df.attrs["settings"] = json.loads((folder / "settings.json").read_text())
    return df


def _cache_is_complete(folder: Path, settings: dict) -> bool:
    man, sett = folder / "manifest.csv", folder / "settings.json"
    if not (man.is_file() and sett.is_file()):
        return False
    try:
        stored = json.loads(sett.read_text())
    except ValueError:
        return False
    if {k: stored.get(k) for k in settings} != settings:
        return False
    rel = pd.read_csv(man, dtype=str, keep_default_na=False, usecols=["path", "video"])
    files = [p for col in ("path", "video") for p in rel[col] if p]
    absent = [p for p in files if not (folder / p).is_file()]
    if absent:
        warnings.warn(f"synthetic corpus cache {folder} misses {len(absent)} file(s) "
                      f"(e.g. {absent[0]}); regenerating it", stacklevel=3)
        return False
    return True


# --------------------------------------------------------------------------- entry point

def load(root: Path | str, on_error: str = "raise", *,
         languages: tuple[str, ...] = LANGUAGES,
         emotions: tuple[str, ...] = DEFAULT_EMOTIONS,
         speakers_per_language: int = 10,
         utterances_per_speaker_emotion: int = DEFAULT_UTTERANCES,
         seed: int = 0,
         video: bool = True,
         text_cue_share: float = DEFAULT_TEXT_CUE_SHARE,
         misleading_share: float = DEFAULT_MISLEADING_SHARE,
         progress: bool | None = None) -> pd.DataFrame:
    """Generate (once) and return the synthetic corpus as a manifest.

    root: the cache folder for this corpus (``sercore.data.load`` passes
        ``cache_dir()/"synthetic"``); the corpus goes to ``root/<settings hash>/``.
    on_error: accepted for the loader contract (``"raise"`` or ``"skip"``); generation never
        skips: a synthesis failure raises.
    languages, emotions: subsets of :data:`LANGUAGES` and :data:`SUPPORTED_EMOTIONS`.
    speakers_per_language: speakers per language (F, M, F, ...; two per session).
    utterances_per_speaker_emotion: utterances of every speaker in every emotion, so the
        corpus has ``len(languages) * speakers_per_language * len(emotions) * this`` rows,
        balanced over labels (default 5: 800 utterances).
    seed: everything drawn depends on it; the same settings give byte-identical files.
    video: also draw the face-frame arrays (``video`` column; ``None`` when ``False``).
    text_cue_share: share of utterances whose text carries an emotion phrase.
    misleading_share: share of those phrases that belong to another emotion.
    progress: show a tqdm bar while generating (None: unless SERCORE_PROGRESS=0).

    Returns the manifest (one row per utterance, absolute paths); ``attrs['note']`` says it is
    synthetic, ``attrs['root']`` is the generated folder and ``attrs['settings']`` the content of
    its ``settings.json`` (these settings, the espeak-ng version, every speaker's traits, the
    generation time).
    """
    SkipLog(on_error)  # validates on_error
    settings = _check_settings(languages, emotions, speakers_per_language,
                               utterances_per_speaker_emotion, seed, text_cue_share,
                               misleading_share)
    settings["video"] = bool(video)
    settings["generator_version"] = GENERATOR_VERSION
    folder = Path(root).expanduser().resolve() / settings_hash(settings)
    if _cache_is_complete(folder, settings):
        return _read_manifest(folder)
    _generate(folder, settings, show_progress(progress))
    return _read_manifest(folder)


def cached(root: Path | str) -> pd.DataFrame | None:
    """The default synthetic corpus (:func:`load`'s default settings) when it is already generated under
    ``root``, else ``None``: generates nothing (``sercore data list`` reports it without the minute
    generation takes)."""
    settings = _check_settings(LANGUAGES, DEFAULT_EMOTIONS, 10, DEFAULT_UTTERANCES, 0,
                               DEFAULT_TEXT_CUE_SHARE, DEFAULT_MISLEADING_SHARE)
    settings["video"] = True
    settings["generator_version"] = GENERATOR_VERSION
    folder = Path(root).expanduser().resolve() / settings_hash(settings)
    return _read_manifest(folder) if _cache_is_complete(folder, settings) else None


def _utterance(folder: Path, settings: dict, spk: Speaker, emo: str, k: int) -> dict:
    """Generate one utterance's files under ``folder``; returns its manifest record (relative paths).

    Everything drawn depends only on the seed, the utterance's keys (language, speaker, emotion,
    k) and the text settings, so an utterance is the same whatever else is generated.
    """
    seed, emotions = settings["seed"], tuple(settings["emotions"])
    utt_id = f"{spk.id}_{emo[:3]}_{k:02d}"
    keys = (spk.language, spk.id, emo, str(k))
    text, parts, _cue = _pick_text(_rng(seed, "text", *keys), spk.language, emo, spk.gender,
                                   emotions, settings["text_cue_share"], settings["misleading_share"])
    r = _rng(seed, "audio", *keys)
    intensity = float(np.exp(r.normal(0, 0.3)))
    ssml = _ssml(spk.language, parts, r, PROFILES[emo], intensity)
    y = synthesize(spk, emo, ssml, r, intensity)
    wav_rel = f"wav/{spk.id}/{utt_id}.wav"
    _write_wav(folder / wav_rel, y)
    vid_rel = None
    if settings["video"]:
        n_frames = max(1, int(round(len(y) / SAMPLE_RATE * VIDEO_FPS)))
        frames = render_face(spk, emo, n_frames, _rng(seed, "video", *keys))
        vid_rel = f"video/{spk.id}/{utt_id}.npy"
        _write_npy(folder / vid_rel, frames)
    return {"utt_id": utt_id, "path": wav_rel, "start": None, "end": None, "text": text,
            "label": emo, "label_raw": emo, "speaker": spk.id, "gender": spk.gender,
            "session": spk.session, "language": spk.language, "corpus": "synthetic",
            "video": vid_rel, "split": None}


def _generate(folder: Path, settings: dict, progress: bool) -> None:
    """Write the corpus into ``folder``: audio and video first, ``settings.json`` and
    ``manifest.csv`` last (each through a temporary name)."""
    from tqdm.auto import tqdm

    version = espeak_version()   # fails early, with the install hint, when espeak-ng is missing
    folder.mkdir(parents=True, exist_ok=True)
    speakers = [spk for lang in settings["languages"]
                for spk in make_speakers(lang, settings["speakers_per_language"], settings["seed"])]
    jobs = [(spk, emo, k) for spk in speakers for emo in settings["emotions"]
            for k in range(settings["utterances_per_speaker_emotion"])]
    t0 = time.perf_counter()
    records = [_utterance(folder, settings, spk, emo, k)
               for spk, emo, k in tqdm(jobs, desc=f"synthetic corpus -> {folder}", unit="utt",
                                       disable=not progress)]
    info = dict(settings, espeak_ng=version, sample_rate=SAMPLE_RATE, video_fps=VIDEO_FPS,
                frame_size=FRAME_SIZE, utterances=len(records),
                generation_s=round(time.perf_counter() - t0, 2),
                speakers=[asdict(s) for s in speakers])
    atomic_write(folder / "settings.json",
                  lambda p: p.write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8"))
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    atomic_write(folder / "manifest.csv", lambda p: table.to_csv(p, index=False, encoding="utf-8"))


#: the corpus, declared once (sercore.registry): generated into the cache, never read from the data root;
#: no paper reports a number on it (its runs carry the synthetic banner)
CORPUS = Corpus(
    name="synthetic", dirname=DIRNAME, title="synthetic corpus (generated)", layout=LAYOUT, load=load, order=0,
    label_map="ser4", label_maps=(SYNTHETIC7,), modalities=("audio", "text", "video"), protocol="official",
    compares_as=None, generated=True)
