"""Game-community language for the sentiment model: text normalised the way players write (repeated
letters, all caps, links), and the slang, emotes and ratings that carry a verdict written as marker
tokens beside the words ("W update", "L patch", "mid", "cooked", "KEKW", "gg ez", "cancer, 10/10").

The markers name groups, not verdicts: the model learns each group's weight from labelled text, so a
rare member ("cooked") shares what the group's common members ("trash", "garbage") taught it."""
from __future__ import annotations

import re

URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
MARKUP = re.compile(r"\[/?[a-z0-9*]+(?:=[^\]]*)?\]|<[^>\n]{1,200}>|&[a-z]+;|&#\d+;", re.IGNORECASE)
REPEATS = re.compile(r"(.)\1{2,}")  # "sooooo" -> "soo", "!!!!!" -> "!!"
RATING = re.compile(r"(?<![\d/])(\d{1,2}(?:[.,]\d)?)\s*/\s*10(?!\d)")
WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?|[:;xX]-?[)(DPpO3]|<3|[()]:", re.UNICODE)

# group -> members, as normalised lower-case words or word pairs (a pair matches two words in a row)
GROUPS: dict[str, set[str]] = {
    "praise": {"pog", "poggers", "pogchamp", "pogu", "goated", "goat", "based", "banger", "peak", "clutch",
               "cracked", "gigachad", "chad", "fire", "lit", "epic", "godlike", "masterpiece", "gem", "10/10", "w",
               "dub", "huge w", "big w", "massive w", "<3", ":)", ":d", ";)", "wp", "ggwp", "gj", "nice", "ty",
               "thx", "tyvm", "love", "loved", "addictive", "awesome", "amazing", "fun"},
    "sportsmanship": {"gg", "ggs", "glhf", "gl hf", "gl", "hf", "well played", "good game"},
    "insult": {"trash", "garbage", "dogshit", "shit", "ass", "bs", "cancer", "cringe", "mid", "cooked", "washed",
               "l", "big l", "huge l", "massive l", "take the l", "ratio", "noob", "noobs", "newb", "bot", "bots",
               "idiot", "retard", "retarded", "stupid", "dumb", "fuck", "fucking", "fk", "wtf", "stfu", "kys", "ez",
               "gg ez", "ezz", "ez game", "feeder", "feeding", "tilted", "salty", "toxic", "pathetic", "useless",
               "worst", "awful", "terrible", "horrible", ":(", "d:", "):"},
    "product_fault": {"p2w", "pay2win", "pay to win", "cash grab", "cashgrab", "scam", "rigged", "unplayable",
                      "refund", "refunded", "uninstall", "uninstalled", "uninstalling", "dead game", "lag", "laggy",
                      "desync", "crash", "crashes", "crashing", "broken", "buggy", "bugged", "unbalanced", "nerfed",
                      "grind", "grindy", "boring"},
    "giving_up": {"ff", "ff15", "ff20", "gg end", "afk", "report", "reported", "i quit", "quit", "surrender"},
    "laughter": {"lol", "lul", "lulw", "kekw", "kek", "omegalul", "lmao", "lmfao", "rofl", "haha", "hahah", "xd",
                 "xdd", "4head", "jaja", "kkk", "ahah", "hehe"},
    "question": {"?", "how", "why", "what", "when", "where", "anyone", "help"},
}
PAIRS = {g: {m for m in ms if " " in m} for g, ms in GROUPS.items()}
SINGLES = {g: {m for m in ms if " " not in m} for g, ms in GROUPS.items()}
CASE_SENSITIVE = {"W": "praise", "L": "insult", "Pog": "praise", "KEKW": "laughter", "LUL": "laughter"}


def normalise(text: str) -> str:
    """Text as the model reads it: links and markup out, letters repeated past two squeezed."""
    return REPEATS.sub(r"\1\1", MARKUP.sub(" ", URL.sub(" ", text or ""))).strip()


def markers(text: str) -> list[str]:
    """The marker tokens of a normalised text: one per slang group member found, one for a rating out
    of ten (high, middling, low), one for shouting (mostly capitals) and one for a very short text."""
    raw = WORD.findall(text)
    words = [w.lower() for w in raw]
    out: list[str] = []
    for i, w in enumerate(words):
        if raw[i] in CASE_SENSITIVE and len(raw[i]) <= 5:
            out.append("__" + CASE_SENSITIVE[raw[i]])
            continue
        for group, members in SINGLES.items():
            if w in members and w not in ("w", "l"):  # a lone w or l counts only in capitals (above)
                out.append("__" + group)
        if i + 1 < len(words):
            pair = f"{w} {words[i + 1]}"
            out += ["__" + g for g, members in PAIRS.items() if pair in members]
    if "?" in text:
        out.append("__question")
    for m in RATING.finditer(text):
        value = float(m.group(1).replace(",", "."))
        out.append("__rating_high" if value >= 7 else "__rating_low" if value <= 4 else "__rating_mid")
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        out.append("__shouting")
    if len(raw) <= 3:
        out.append("__short")
    return out


def analysed(text: str) -> str:
    """The normalised text followed by its markers: what the model's word features are counted on."""
    t = normalise(text)
    return t + " " + " ".join(markers(t))
