"""Which language a message is in, and which of its words carry meaning. Text is cleaned for counting
(URLs, markup and entities out), the language detected by a packaged model (lingua, offline), stop words
taken per language (stopwordsiso), and Chinese and Japanese segmented into words (rjieba)."""
from __future__ import annotations

import functools
import os
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

URL = re.compile(r"(?:https?://|www\.)\S+|\b\S+\.(?:com|net|org|gg|io|ly|tv|be)(?:/\S*)?\b", re.IGNORECASE)
MARKUP = re.compile(r"\[/?[a-z0-9*]+(?:=[^\]]*)?\]|<[^>\n]{1,200}>|&[a-z]+;|&#\d+;|[*_~`|>]{2,}", re.IGNORECASE)
TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # letters, with inner apostrophes and hyphens: pay-to-win, don't
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MIN_WORDS_TO_DETECT = 3  # shorter texts ("gg ez", "lol") say too little to name a language
MIN_DISTANCE = 0.2  # lingua's margin between the best and the next language below which a text is undecided
MIN_SHARE = 0.02  # a language this common among the detected messages brings its stop words
# the languages a game community mostly writes in, each with a stop-word list (more would make short texts less sure)
LANGUAGES = ("en", "es", "pt", "de", "fr", "ru", "it", "pl", "tr", "nl", "sv", "da", "fi", "nb", "cs", "uk", "hu",
             "ro", "zh", "ja", "ko", "vi", "th", "id", "ar")
NAMES = {"en": "English", "es": "Spanish", "pt": "Portuguese", "de": "German", "fr": "French", "ru": "Russian",
         "it": "Italian", "pl": "Polish", "tr": "Turkish", "nl": "Dutch", "sv": "Swedish", "da": "Danish",
         "fi": "Finnish", "nb": "Norwegian", "cs": "Czech", "uk": "Ukrainian", "hu": "Hungarian", "ro": "Romanian",
         "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian",
         "ar": "Arabic"}
# stopwordsiso's English list holds words that name what players talk about; they stay words
CONTENT = {"free", "fire", "world", "fix", "system", "computer", "buy", "open", "top", "home", "name", "empty",
           "full", "new", "old", "move", "show", "line", "end"}
# never a topic's word: what is left of links and markup, and chat noise
NOISE = {"http", "https", "www", "com", "html", "amp", "nbsp", "quot", "gt", "lt", "url", "img", "spoiler", "noparse",
         "strike", "h1", "h2", "h3", "lol", "lmao", "lmfao", "rofl", "xd", "xdd", "haha", "hahaha", "hahahaha", "jaja",
         "jajaja", "kkk", "kkkk", "kkkkk", "ahah", "hehe", "hmm", "uh", "um", "ok", "okay", "yeah", "yes", "nah", "pls",
         "plz", "ngl", "tbh", "imo", "imho", "idk", "btw", "rn", "af", "fr", "smh", "im", "ive", "dont", "doesnt",
         "didnt", "cant", "wont", "isnt", "thats", "theres", "youre", "u", "ur"}


def clean(text: str) -> str:
    """Text for counting words: links, markup (BBCode, HTML, entities) and emphasis marks removed, lower case."""
    return MARKUP.sub(" ", URL.sub(" ", text or "")).lower()


def tokens(text: str) -> list[str]:
    """The words of cleaned text, Chinese and Japanese segmented; one-letter words dropped."""
    out: list[str] = []
    for tok in TOKEN.findall(text):
        tok = tok.replace("’", "'")
        if CJK.search(tok):
            out += [w for w in _segment(tok) if len(w) > 1 and TOKEN.fullmatch(w)]
        elif len(tok) > 1:
            out.append(tok.removesuffix("'s"))
    return out


def _segment(text: str) -> list[str]:
    import rjieba
    return rjieba.cut(text)


_DETECTOR: dict[str, Any] = {}


def _detector(preload: bool = False) -> Any:
    """The detector, built once per process (or inherited from the process that forked this one)."""
    if "detector" not in _DETECTOR:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
        codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
        # the full models (the low-accuracy mode calls "the rifle nerf ruined sniper" Norwegian); unsure texts: None
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_minimum_relative_distance(MIN_DISTANCE)
        _DETECTOR.update(detector=(builder.with_preloaded_language_models() if preload else builder).build(),
                         pid=os.getpid())
    return _DETECTOR["detector"]


def preload() -> None:
    """Load every language model now (about 4 s), e.g. in the team server's fork server, so a worker's first
    ingest does not wait for them."""
    _detector(preload=True)


def detect(texts: list[str]) -> list[str | None]:
    """Each text's language as an ISO 639-1 code, or None where the text is too short to tell."""
    if not texts:
        return []
    long_enough = [i for i, t in enumerate(texts) if CJK.search(t) or len(TOKEN.findall(t)) >= MIN_WORDS_TO_DETECT]
    detector = _detector()
    if _DETECTOR["pid"] == os.getpid():
        found = detector.detect_languages_in_parallel_of([texts[i] for i in long_enough])
    else:  # built before a fork: its thread pool did not come along (a parallel call would hang), one at a time
        found = [detector.detect_language_of(texts[i]) for i in long_enough]
    out: list[str | None] = [None] * len(texts)
    for i, lang in zip(long_enough, found):
        if lang is not None:
            out[i] = lang.iso_code_639_1.name.lower()
    return out


def mix(codes: Iterable[str | None]) -> dict[str, float]:
    """Share of each detected language, most common first (undetected texts left out)."""
    counts = Counter(c for c in codes if c)
    total = sum(counts.values())
    return {c: round(n / total, 4) for c, n in counts.most_common()} if total else {}


def stop_words(languages: Iterable[str]) -> set[str]:
    """Stop words of English and of the given languages, with the noise words, as `tokens` writes words."""
    import stopwordsiso
    words: set[str] = set(NOISE)
    for code in {"en", *languages}:
        iso = "no" if code == "nb" else code
        if stopwordsiso.has_lang(iso):
            words |= {w.lower() for w in stopwordsiso.stopwords(iso)}
    words -= CONTENT
    return words | {w.replace("'", "") for w in words if "'" in w}


def languages_present(codes: list[str | None]) -> list[str]:
    """The languages common enough (MIN_SHARE of detected texts) to bring their stop words."""
    return [c for c, share in mix(codes).items() if share >= MIN_SHARE]


NEAR_DUPLICATE = 0.8  # Jaccard of two texts' word sets at which they are one quote


@functools.lru_cache(maxsize=1)
def _fillers() -> frozenset[str]:
    return frozenset(stop_words(()))


def same_words(a: str, b: str) -> bool:
    """Whether two texts say the same words (case, order, punctuation, repetition and filler aside): a
    Jaccard of their lower-cased word sets, stop words and chat noise out ("honestly ranked is stale" and
    "ok so ranked is stale" are one), of at least NEAR_DUPLICATE. Two quotes that are one to a reader."""
    (x, cx), (y, cy) = _words(a), _words(b)
    if not x or not y:
        return a.strip().lower() == b.strip().lower()
    if cx and cy:
        x, y = cx, cy
    return len(x & y) / len(x | y) >= NEAR_DUPLICATE


@functools.lru_cache(maxsize=8192)
def _words(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """A text's lower-cased words, and those without filler: read once per text, not once per comparison
    (quotes are compared pairwise)."""
    words = frozenset(TOKEN.findall(text.lower()))
    return words, words - _fillers()
