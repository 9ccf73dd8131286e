"""Speech with known words: Asterisk's recorded prompts, espeak-ng sentences, the Free Spoken Digit Dataset.

Each yields (clip id, waveform or file, captions) with the spoken text in the caption ("a woman says ..."),
so that spoken-content queries and the generic "someone speaking" both have real examples.
"""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
from captions import speech_captions

ASTERISK_VOICE = "usr/share/asterisk/sounds/en_US_f_Allison"  # Allison Smith, a woman
ASTERISK_TEXT = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"

ENGLISH = [
    "the weather today is cold and windy", "please close the door behind you", "where did you put my keys",
    "the train to the city leaves at noon", "I will call you back in five minutes", "turn left at the next corner",
    "thank you very much for your help", "can you hear me now", "the meeting has been moved to tomorrow",
    "dinner is ready, come to the table", "do not forget to water the plants", "the children are playing outside",
    "this is a test of the announcement system", "welcome aboard, please take your seats",
    "the library closes at eight tonight", "we need more milk and bread", "what time does the show start",
    "my phone battery is almost empty", "the cat is sleeping on the sofa", "please speak more slowly",
    "the store opens early on Saturday", "I think it is going to rain", "let us go for a walk in the park",
    "the next stop is the central station", "good morning everyone", "happy birthday to you",
    "the package will arrive on Monday", "can I have a cup of coffee please", "the lights are off in the kitchen",
    "we are lost, do you have a map", "the music is too loud", "press the green button to start",
]
OTHER_LANGUAGES = {  # espeak-ng voice -> (language name, sentences)
    "de": ("German", ["guten morgen, wie geht es dir", "der zug kommt um acht uhr an", "ich habe keine zeit"]),
    "fr": ("French", ["bonjour, comment allez-vous", "le train part dans cinq minutes", "il fait beau aujourd'hui"]),
    "es": ("Spanish", ["buenos días, ¿cómo estás?", "la tienda cierra a las nueve", "me gusta mucho la música"]),
    "it": ("Italian", ["buongiorno, come stai", "il treno è in ritardo", "andiamo al mare domani"]),
    "pt": ("Portuguese", ["bom dia, tudo bem", "o ônibus chega às dez", "eu gosto de café"]),
    "nl": ("Dutch", ["goedemorgen, hoe gaat het", "de trein vertrekt om negen uur", "het regent vandaag"]),
    "sv": ("Swedish", ["god morgon, hur mår du", "tåget går klockan åtta", "det är kallt ute"]),
    "pl": ("Polish", ["dzień dobry, jak się masz", "pociąg odjeżdża o ósmej", "dzisiaj pada deszcz"]),
}
MALE, FEMALE = ("m1", "m2", "m3", "m4", "m5", "m6", "m7"), ("f1", "f2", "f3", "f4", "f5")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


ASTERISK_LANGUAGES = {  # package -> (voice folder, language, speaker)
    "asterisk-core-sounds-fr-wav": ("usr/share/asterisk/sounds/fr_CA_f_June", "French", "a woman"),
    "asterisk-core-sounds-es-wav": ("usr/share/asterisk/sounds/es_MX_f_Allison", "Spanish", "a woman"),
    "asterisk-core-sounds-it-wav": ("usr/share/asterisk/sounds/it_IT_m_Carlo", "Italian", "a man"),
    "asterisk-core-sounds-ru-wav": ("usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU", "Russian", "a woman"),
}
KTUBERLING_LANGUAGES = {
    "ca": "Catalan", "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "fi": "Finnish", "fr": "French", "ga": "Irish", "gl": "Galician", "it": "Italian", "lt": "Lithuanian",
    "nds": "Low German", "nl": "Dutch", "nn": "Norwegian", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "uk": "Ukrainian", "wa": "Walloon",
}


def asterisk_language_prompts(tree: Path, package: str) -> Iterator[tuple[str, str, list[str]]]:
    """Telephony prompts of another language's Asterisk voice (no transcripts used: captions name the language)."""
    folder, language, who = ASTERISK_LANGUAGES[package]
    root = tree / folder
    for path in sorted(root.rglob("*.wav")):
        key = path.relative_to(root).with_suffix("").as_posix()
        yield (f"asterisk-{language.lower()}/{key}", str(path),
               [f"{who} speaking {language}", f"{who} says something in {language}",
                f"a telephone announcement in {language}"])


def ktuberling_words(tree: Path) -> Iterator[tuple[str, str, list[str]]]:
    """KTuberling's spoken object names: each language folder says the object its (English) file name names."""
    root = tree / "usr/share/ktuberling/sounds"
    for path in sorted(root.glob("*/*.ogg")):
        code = path.parent.name.split("@")[0]
        language = KTUBERLING_LANGUAGES.get(code)
        if language is None:
            continue
        word = " ".join(w for w in path.stem.replace("-", "_").split("_") if w.isalpha())
        if not word:
            continue
        said = f'"{word}"' if language == "English" else f'the {language} word for "{word}"'
        yield (f"ktuberling/{path.parent.name}/{path.stem}", str(path),
               [f"a voice saying {said}", f"someone says a word in {language}", f"a spoken word: {word}"])


def asterisk_prompts(tree_wav: Path, tree_text: Path, rng: random.Random, n: int) -> Iterator[tuple[str, str, list[str]]]:
    """Allison Smith's prompts whose transcript is plain words (no '[tone]' descriptions)."""
    texts = {}
    with gzip.open(tree_text / ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if ":" in line and not line.startswith(";"):
                key, text = line.split(":", 1)
                texts[key.strip()] = " ".join(text.split())
    root = tree_wav / ASTERISK_VOICE
    for path in sorted(root.rglob("*.wav")):
        key = path.relative_to(root).with_suffix("").as_posix()
        text = texts.get(key, "")
        if not text or "[" in text or len(text) > 160:
            continue
        yield f"asterisk/{key}", str(path), speech_captions(text.rstrip("."), "a woman", rng, n)


def espeak_sentences(rng: random.Random, n: int, per_sentence: int = 6) -> Iterator[tuple[str, np.ndarray, list[str]]]:
    """Each English sentence in `per_sentence` random voices; the other languages in two voices each."""
    if shutil.which("espeak-ng") is None:
        return
    jobs = []
    for i, text in enumerate(ENGLISH):
        for j in range(per_sentence):
            male = rng.random() < 0.5
            variant = rng.choice(MALE if male else FEMALE)
            jobs.append((f"espeak/en{i:02d}_{j}", rng.choice(["en-us", "en-gb", "en"]), variant, text,
                         speech_captions(text, "a man" if male else "a woman", rng, n - 1)
                         + ["a synthetic voice speaking English"]))
    for voice, (language, sentences) in OTHER_LANGUAGES.items():
        for i, text in enumerate(sentences):
            for j in range(2):
                male = rng.random() < 0.5
                who = "a man" if male else "a woman"
                jobs.append((f"espeak/{voice}{i}_{j}", voice, rng.choice(MALE if male else FEMALE), text,
                             [f"{who} speaking {language}", f"speech in {language}", f"{who} says something in {language}"]))
    with tempfile.TemporaryDirectory() as tmp:
        for key, voice, variant, text, captions in jobs:
            out = Path(tmp) / "x.wav"
            speed = str(rng.randint(130, 190))
            pitch = str(rng.randint(30, 70))
            subprocess.run(["espeak-ng", "-v", f"{voice}+{variant}", "-s", speed, "-p", pitch, "-w", str(out), text],
                           check=True, capture_output=True)
            wave, sr = sf.read(out, dtype="float32", always_2d=True)
            yield key, (wave.mean(1), sr), captions


def spoken_digits(folder: Path, rng: random.Random, n: int) -> Iterator[tuple[str, str, list[str]]]:
    """FSDD recordings `{digit}_{speaker}_{index}.wav`; all six speakers are men."""
    for path in sorted(folder.glob("*.wav")):
        digit, speaker, index = path.stem.split("_")
        word = DIGITS[int(digit)]
        captions = [f"a man says the number {word}", f"a man saying \"{word}\"", f"a spoken digit: {word}",
                    f"someone counting: {word}"]
        rng.shuffle(captions)
        yield f"fsdd/{path.stem}", str(path), captions[:n]


def export_fsdd(source: Path, dest: Path) -> Path | None:
    """FSDD's recordings/ from a checkout or a bare git repository (e.g. a `git clone --mirror`)."""
    if (source / "recordings").is_dir():
        return source / "recordings"
    if dest.is_dir() and any(dest.glob("*.wav")):
        return dest
    if not (source / "HEAD").is_file():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "--git-dir", str(source), "archive", "HEAD", "recordings"], capture_output=True)
    if archive.returncode:
        return None
    subprocess.run(["tar", "-x", "-C", str(dest), "--strip-components=1"], input=archive.stdout, check=True)
    return dest
