"""Plain words -> the query they mean. One translator for `pilang ask`, `(ask "...")`, `? ...` at the REPL
and in the kernel, `POST /v1/ask` and voice.

How: the question's names are resolved against the workspace's own vocabulary (its personas and their
nicknames, channels, sources, dated changes and data span: `Workspace.vocabulary`), with dates from
rules and `dateparser`; what is asked (the intent: sentiment, drivers, a persona, a prediction ...) is the
nearest of a library of example questions by the workspace's embedder, with the names masked, helped by
the words that name an analysis; a developer's corrections join the library (engine.learning.phrases:
theirs first, then the team's). The query is assembled from intent and slots and read back by pilang's
reader before it is shown: a question that maps to nothing says so and offers the closest queries."""
from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta, timezone
from typing import Any

# The library: what is asked, by examples (names left out: they are slots). A correction adds to it.
EXAMPLES: dict[str, list[str]] = {
    "sentiment": ["how do players feel", "what is the mood", "sentiment", "how positive or negative is it",
                  "are people happy", "how is the vibe", "how is the community doing", "pulse check",
                  "how satisfied are players", "net sentiment", "is the mood getting worse"],
    "volume": ["how many messages", "message volume", "how busy was it", "activity levels", "how much are people posting",
               "number of posts", "message count", "how chatty were they", "how many reviews came in"],
    "topics": ["what are people talking about", "main topics", "what themes come up", "what is being discussed",
               "top discussion subjects", "what do they talk about most", "hot topics", "what subjects come up"],
    "drivers": ["what are players upset about", "why is sentiment down", "what is driving the complaints",
                "biggest complaints", "what are they angry about", "what pulled the mood down", "main pain points",
                "what is making them unhappy", "top gripes", "what changed for the worse", "what is bugging people",
                "what are they frustrated with", "why are they mad"],
    "anomalies": ["any unusual days", "were there spikes", "did anything weird happen", "outlier days", "anomalies",
                  "strange drops", "sudden surges", "red flags", "odd days"],
    "forecast": ["what will sentiment look like next week", "forecast", "where is the mood heading",
                 "predict next week's activity", "projected trend", "outlook for the next days",
                 "will things get better or worse", "sentiment trend for next week"],
    "patterns": ["weekly patterns", "recurring rhythms", "which days of the week are busiest", "daily and weekly cycles",
                 "do people post more on weekends", "seasonality"],
    "hodge": ["how does conversation flow", "hodge decomposition", "circular reply flows", "who replies to whom as a flow"],
    "crashes": ["which crashes are most common", "crash reports", "how many crashes on the new build", "top crashes",
                "is the game crashing more"],
    "personas": ["what personas do we have", "list the player groups", "what kinds of players are there",
                 "show me our player segments"],
    "churn": ["who is about to quit", "churn risk", "which players are likely to leave", "predict churn",
              "how many players will stop playing", "are we losing players", "who will churn", "who might drop off"],
    "risk": ["which players are at risk of turning toxic", "toxicity risk per player", "risky players", "player risk scores",
             "flag players who might become toxic"],
    "persona": ["what do they think of", "ask them what they think about", "do they like", "how do they feel about",
                "what is their opinion of", "do they find the game too hard", "what do they want from",
                "what do they say about", "what frustrates them most about", "do they enjoy", "what do they hate about",
                "ask them about"],
    "reaction": ["how would they react to", "what if we", "how would they take it if we", "predict the reaction if we",
                 "what happens if we", "will they be ok if we", "how would they respond", "who would churn if we"],
    "compare": ["compare them", "versus", "how do they differ", "difference between", "before and after", "vs"],
    "search": ["what do people say about", "find messages about", "show me posts mentioning", "anyone talking about",
               "search for", "look up mentions of", "what is said about", "what are players saying regarding"],
}
# Words that name an intent outright (a nudge on top of the examples' closeness).
CUES: dict[str, tuple[str, ...]] = {
    "sentiment": ("sentiment", "mood", "feel", "vibe", "happy", "happier", "positive", "negative", "pulse"),
    "volume": ("how many", "volume", "busy", "activity", "posting", "count", "chatty", "# of", "how much"),
    "topics": ("topic", "theme", "talking about", "discuss", "subjects", "chatting about", "bring up"),
    "drivers": ("upset", "complain", "angry", "mad", "gripe", "pain point", "frustrat", "bugging", "why is",
                "driving", "pulled", "negativity", "worse", "unhappy"),
    "anomalies": ("unusual", "anomal", "spike", "weird", "outlier", "strange", "surge", "red flag", "odd",
                  "sentiment drop"),
    "forecast": ("forecast", "next week", "heading", "outlook", "projected", "will things", "next 7",
                 "will sentiment", "trend for"),
    "patterns": ("pattern", "rhythm", "cycle", "days of the week", "weekend", "seasonal"),
    "hodge": ("hodge", "flow", "replies to whom"),
    "crashes": ("crash", "crashing"),
    "personas": ("personas", "player groups", "kinds of players", "segments"),
    "churn": ("churn", "quit", "leave", "stop playing", "losing players", "drop off"),
    "risk": ("risk", "toxic"),
    "reaction": ("if we", "react", "reaction", "respond", "take it"),
    "persona": ("think", "opinion", "feel about", " like ", "enjoy", "want", "find the", "ask "),
    "compare": ("compare", " vs", "versus", "differ", "difference"),
    "search": ("say about", "saying", "mention", "search", "find ", "look up", "said about", "anyone talking"),
}
ABBREVIATIONS = {"wk": "week", "wks": "weeks", "mo": "month", "msg": "message", "msgs": "messages", "ppl": "people",
                 "rn": "right now", "r": "are", "u": "you", "tix": "tickets", "whats": "what is", "hows": "how is",
                 "whos": "who is", "gonna": "going to", "w/": "with", "thx": "thanks"}
NICKNAMES = {"sweats": "competitive", "tryhards": "competitive", "pvp": "competitive", "pvp crowd": "competitive",
             "pvp players": "competitive", "ranked players": "competitive", "competitive crowd": "competitive",
             "casuals": "casual", "casual crowd": "casual", "grinders": "grind", "farmers": "grind",
             "looters": "loot", "newbies": "new", "noobs": "new", "newcomers": "new", "beginners": "new",
             "new folks": "new", "whales": "whale", "spenders": "whale"}
SOURCES = {"steam": ("steam", "store reviews", "reviews", "review"), "discord": ("discord", "chat"),
           "tickets": ("tickets", "ticket", "support", "help desk", "helpdesk"), "reddit": ("reddit", "subreddit")}
METRICS = ("satisfaction", "engagement")
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m} | {
    m.lower(): i for i, m in enumerate(calendar.month_abbr) if m and m.lower() != "may"}
INFLECTION = r"(?:s|es|ed|d|ing|ly|ies|y|al|ity|ion|ions|ation|ated|ating|ment|ts|t)?(?!\w)"
TYPO_SIMILARITY = 0.75  # one edit in four letters: "fellow" is not "flow"
LEARNED_BONUS = 0.1  # a taught phrase outweighs a library example as close
LEARNED_CLOSENESS = 0.6  # ... on questions at least this close to it (chosen on the dev split: 0.6 lifted, 0.7 did nothing)
COMMUNITY = re.compile(r"\b(?:player|people|community|folk|user|message|post|review|ticket|chat|discord|steam|"
                       r"reddit|patch|update|hotfix|game|server|channel|ppl|crowd|anyone|everyone)s?\b")
NO_QUERY = 0.30  # below this closeness, with no word naming an intent, the question maps to nothing
KNOWN_WORDS = {w for ex in EXAMPLES.values() for e in ex for w in e.split()} | {
    w for cues in CUES.values() for c in cues for w in c.split()}


@dataclass
class Translation:
    """What a question became: the query (None when it maps to nothing), how sure, and why."""
    question: str
    query: str | None
    confidence: float
    intent: str | None
    slots: dict[str, Any] = field(default_factory=dict)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    why: str = ""
    learned: str | None = None  # the correction it came from, when one answered it
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"question": self.question, "query": self.query, "confidence": round(self.confidence, 3),
                "intent": self.intent, "slots": self.slots, "alternatives": self.alternatives, "why": self.why,
                "learned": self.learned}


# ---- words ----------------------------------------------------------------------------------------------

def _normal(text: str) -> str:
    """Lower case, curly quotes straightened, abbreviations spelled out, likely typos of the library's
    own words fixed (rapidfuzz's Damerau-Levenshtein: "topcis", "sentimnet"; only words it does not know,
    five letters or more, never into a longer word that starts with it)."""
    from rapidfuzz import process
    from rapidfuzz.distance import DamerauLevenshtein
    t = text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("# of", "number of")
    t = re.sub(r"(\w)'s\b", r"\1", t)
    out = []
    for w in re.findall(r"#?[\w.\-/]+|[?!,]", t):
        w = ABBREVIATIONS.get(w, w)
        if len(w) >= 5 and w.isalpha() and w not in KNOWN_WORDS:
            hit = process.extractOne(w, KNOWN_WORDS, scorer=DamerauLevenshtein.normalized_similarity,
                                     score_cutoff=TYPO_SIMILARITY)
            if hit and not (hit[0].startswith(w) or w.startswith(hit[0])):  # "season" is not "seasonal"
                w = hit[0]
        out.append(w)
    return " ".join(out)


def _find(text: str, phrase: str) -> re.Match[str] | None:
    return re.search(r"(?<![\w#])" + re.escape(phrase) + r"(?![\w])", text)


# ---- names: changes, periods, filters ---------------------------------------------------------------

def _day(ts: float) -> datetime:
    d = datetime.fromtimestamp(ts, timezone.utc)
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def _iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%d")


class Vocabulary:
    """The workspace's names, as a question may say them."""

    def __init__(self, vocab: dict[str, Any]) -> None:
        self.raw = vocab
        self.sources = list(vocab.get("sources") or [])
        self.channels = list(vocab.get("channels") or [])
        self.personas = list(vocab.get("personas") or [])
        self.changes = [c for c in vocab.get("changes") or [] if c.get("time") is not None]
        last = vocab.get("last")
        self.end = _day(last) + timedelta(days=1) if last else None  # the day after the data's last day

    @cached_property
    def persona_phrases(self) -> list[tuple[str, str]]:
        """(phrase, persona) pairs, longest phrase first: names, their words, and nicknames (made once)."""
        out = []
        for name in self.personas:
            words = name.replace("-", " ")
            key = [w for w in words.split() if w not in ("players", "player")]
            out += [(words, name), (words.rstrip("s"), name)]
            if key:
                out += [(" ".join(key) + " players", name), (" ".join(key) + " crowd", name)]
                if len(key) == 1 and key[0] not in ("new",):
                    out += [(key[0], name)]
            for nick, stem in NICKNAMES.items():
                if stem in words:
                    out.append((nick, name))
        return sorted(set(out), key=lambda p: -len(p[0]))

    def change_days(self) -> list[tuple[str, str, str]]:
        """(title, kind, day) of each dated change, oldest first."""
        return [(c["title"], c.get("kind") or "", _iso(_day(c["time"]))) for c in self.changes]


def _change_ref(text: str, vocab: Vocabulary) -> tuple[tuple[str, str] | None, re.Match[str] | None]:
    """A named change the text points at: by version ("1.1", "hotfix 1.2.1"), by a name in its title
    ("Nightfall"), or by its kind ("the nerf"); ((title, day), match) or (None, None)."""
    changes = vocab.change_days()
    for m in re.finditer(r"(?:(?:update|hotfix|patch|version|v)\s*)?(\d+(?:\.\d+)+)", text):
        for title, _, day in changes:
            if re.search(r"(?<![\d.])" + re.escape(m.group(1)) + r"(?![\d]|\.\d)", title):
                return (title, day), m
    for title, kind, day in changes:
        for word in re.findall(r"[a-z]{4,}", title.lower()):
            if word not in ("update", "hotfix", "patch", "season") and (m := _find(text, word)):
                return (title, day), m
        if kind and (m := re.search(r"\bthe (?:" + re.escape(kind) + r"|" + re.escape(kind) + r"s)\b", text)):
            return (title, day), m
    return None, None


def _period(text: str, vocab: Vocabulary, comparing: bool) -> tuple[dict[str, Any] | None, list[tuple[int, int]]]:
    """The period a question names: {"context": name} or {"since": d, "until": d} (dates as "YYYY-MM-DD",
    or "all"), and the spans it read; with `comparing`, {"versus": (since, until)} too."""
    end = vocab.end
    spans: list[tuple[int, int]] = []
    changes = vocab.change_days()
    # between two changes
    m = re.search(r"between the (?:two|last two) (updates|hotfixes|patches)", text)
    if m:
        kind = {"updates": "update", "hotfixes": "hotfix", "patches": ""}[m.group(1)]
        pick = [c for c in changes if kind in c[0].lower()][-2:]
        if len(pick) == 2:
            return {"since": pick[0][2], "until": pick[1][2]}, [m.span()]
    m = re.search(r"between (.+?) and (.+?)(?:$|\?|,)", text)
    if m:
        a, _ = _change_ref(m.group(1), vocab)
        b, _ = _change_ref(m.group(2), vocab)
        if a and b:
            return {"since": a[1], "until": b[1]}, [m.span()]
    ref, rm = _change_ref(text, vocab)
    if comparing and ref and re.search(r"\bbefore\b", text) and re.search(r"\bafter\b", text):
        return {"since": ref[1], "until": "all", "versus": ("all", ref[1])}, [rm.span()]
    if ref:
        pre = text[:rm.start()]
        if re.search(r"\bbefore (?:the )?$", pre):
            return {"since": "all", "until": ref[1]}, [rm.span()]
        if re.search(r"\b(?:since|after|from) (?:the )?$", pre) or re.search(r"\b(?:since|after)\b", pre[-25:]):
            return {"since": ref[1], "until": "all"}, [rm.span()]
    if comparing and end and re.search(r"this week (?:vs|versus|compared to|against) last week", text):
        return {"since": _iso(end - timedelta(days=7)), "until": _iso(end),
                "versus": (_iso(end - timedelta(days=14)), _iso(end - timedelta(days=7)))}, []
    named = [(r"\b(?:since|after) (?:the )?(?:last |latest |recent |most recent )?(?:patch|update|hotfix)\b", "last-patch"),
             (r"\b(?:the )?(?:latest|last|recent) (?:patch|update|hotfix)\b", "last-patch"),
             (r"\b(?:last|past|this) week\b|\b(?:last|past) 7 days\b", "last-week"),
             (r"\b(?:last|past|this) month\b|\b(?:last|past) 30 days\b", "last-month"),
             (r"\ball time\b|\boverall\b|\bever\b|\bsince (?:the beginning|launch|the start)\b", "all")]
    for pattern, name in named:
        if m := re.search(pattern, text):
            return {"context": name}, [m.span()]
    if end is not None:
        if m := re.search(r"\b(?:last|past) (\d+) (day|days|week|weeks)\b", text):
            n = int(m.group(1)) * (7 if m.group(2).startswith("week") else 1)
            return {"since": _iso(end - timedelta(days=n)), "until": _iso(end)}, [m.span()]
        if m := re.search(r"\byesterday\b", text):
            return {"since": _iso(end - timedelta(days=2)), "until": _iso(end - timedelta(days=1))}, [m.span()]
        if m := re.search(r"\btoday\b", text):
            return {"since": _iso(end - timedelta(days=1)), "until": _iso(end)}, [m.span()]
        months = "|".join(sorted(MONTHS, key=len, reverse=True))
        found = [(mm, MONTHS[mm.group(1)])
                 for mm in re.finditer(r"\b(?:(?:in|on|during) )?(" + months + r")\b(?: (\d{1,2})\b)?", text)]
        if comparing and len(found) == 2:
            (ma, a), (mb, b) = sorted(found, key=lambda x: -x[1])  # the later month first, versus the earlier
            return {**_month(a, end), "versus": tuple(_month(b, end).values())}, [ma.span(), mb.span()]
        if m := re.search(r"\b(?:on )?(?:the )?(\d{1,2})(?:st|nd|rd|th)? (?:of )?(" + months + r")\b", text):
            month = MONTHS[m.group(2)]
            day = datetime(_year(month, end), month, int(m.group(1)), tzinfo=timezone.utc)
            return {"since": _iso(day), "until": _iso(day + timedelta(days=1))}, [m.span()]
        if found:
            mm, month = found[0]
            if mm.group(2):
                year = _year(month, end)
                day = datetime(year, month, int(mm.group(2)), tzinfo=timezone.utc)
                return {"since": _iso(day), "until": _iso(day + timedelta(days=1))}, [mm.span()]
            return _month(month, end), [mm.span()]
        if m := re.search(r"\b\d{4}-\d{2}-\d{2}\b", text):
            dates = re.findall(r"\b\d{4}-\d{2}-\d{2}\b", text)
            if len(dates) >= 2:
                return {"since": dates[0], "until": dates[1]}, [m.span()]
            return {"since": dates[0], "until": "all"}, [m.span()]
        return _written_dates(text, end)
    return None, spans


def _written_dates(text: str, end: datetime) -> tuple[dict[str, Any] | None, list[tuple[int, int]]]:
    """Dates written other ways ("4/15", "15.04.2025"), by dateparser, relative to the data's end; only
    phrases with a digit that are not a duration count (dateparser reads "may", "second" and "7 days" as dates). One date is that
    day; two are the period between them."""
    from dateparser.search import search_dates
    found = search_dates(text, languages=["en"], settings={"RELATIVE_BASE": end.replace(tzinfo=None),
                                                           "PREFER_DATES_FROM": "past"}) or []
    days = [(phrase, d) for phrase, d in found if re.search(r"\d", phrase)  # a duration is not a date:
            and not re.fullmatch(r"(?:in |for )?\d+\s*(?:day|week|month|year|hour|minute)s?(?: ago)?", phrase.strip())]
    spans = [(text.find(p), text.find(p) + len(p)) for p, _ in days]
    if len(days) >= 2:
        return {"since": days[0][1].strftime("%Y-%m-%d"), "until": days[1][1].strftime("%Y-%m-%d")}, spans
    if days:
        day = days[0][1]
        return {"since": day.strftime("%Y-%m-%d"), "until": (day + timedelta(days=1)).strftime("%Y-%m-%d")}, spans
    return None, []


def _year(month: int, end: datetime) -> int:
    """The year of a month named without one: the latest such month that starts before the data end."""
    return end.year if month <= (end - timedelta(days=1)).month else end.year - 1


def _month(month: int, end: datetime) -> dict[str, str]:
    year = _year(month, end)
    nxt = datetime(year + (month == 12), month % 12 + 1, 1)
    return {"since": f"{year}-{month:02d}-01", "until": nxt.strftime("%Y-%m-%d")}


def _filters(text: str, vocab: Vocabulary) -> tuple[dict[str, str], list[str], list[tuple[int, int]]]:
    """({source, channel, persona}, every persona named in order, spans read)."""
    found: dict[str, str] = {}
    spans: list[tuple[int, int]] = []
    for ch in vocab.channels:
        c = ch.lower()
        m = _find(text, "#" + c) or re.search(r"\b" + re.escape(c) + r" (?:channel|chat)\b", text)
        if m:
            found["channel"] = ch
            spans.append(m.span())
            break
    rest = _blank(text, spans)
    for source, words in SOURCES.items():
        if source in vocab.sources:
            for w in words:
                if (m := _find(rest, w)) and not (w == "chat" and "channel" in found):
                    found["source"] = source
                    spans.append(m.span())
                    break
        if "source" in found:
            break
    rest = _blank(text, spans)
    named: list[tuple[int, str]] = []
    for phrase, name in vocab.persona_phrases:
        for m in re.finditer(r"(?<![\w#])" + re.escape(phrase) + r"(?![\w])", rest):
            if not any(s <= m.start() < e for s, e in spans):
                named.append((m.start(), name))
                spans.append(m.span())
    order = []
    for _, name in sorted(named):
        if name not in order:
            order.append(name)
    if len(order) == 1:
        found["persona"] = order[0]
    return found, order, spans


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    out = list(text)
    for s, e in spans:
        out[s:e] = " " * (e - s)
    return "".join(out)


def _change(text: str) -> str | None:
    """The proposed change a prediction is about: "if we nerf the rifle", "react to increased difficulty"."""
    for pattern in (r"\bif we (.+?)(?:\?|$|,| how | and )", r"\bshould we (.+?)(?:\?|$|,)",
                    r"\b(?:react|reaction|respond) to (.+?)(?:\?|$|,)"):
        if m := re.search(pattern, text):
            return m.group(1).strip(" .!?")
    return None


def _searched(text: str) -> str | None:
    """What a search looks for: the words after "search for", "mentions of", "mentioning", "about" ..."""
    for pattern in (r"\bsearch (?:for )?(.+)", r"\bmentions? of (.+)", r"\bmentioning (.+)", r"\bregarding (.+)",
                    r"\babout (.+)"):
        if m := re.search(pattern, text):
            found = m.group(1).strip(" .!?")
            return found or None
    return None


# ---- intent -----------------------------------------------------------------------------------------------

class Library:
    """The example questions as vectors of the workspace's embedder, per intent (built once per process
    and embedder; a developer's learned phrases are added per call)."""
    _cache: dict[Any, "Library"] = {}

    def __init__(self, encode: Any) -> None:
        self.encode = encode
        self.texts = [(intent, e) for intent, ex in EXAMPLES.items() for e in ex]
        self.vectors = encode([e for _, e in self.texts])
        self.taught: dict[str, Any] = {}  # a taught phrase (masked) -> its vector

    @classmethod
    def of(cls, encode: Any, key: Any) -> "Library":
        if key not in cls._cache:
            cls._cache[key] = cls(encode)
        return cls._cache[key]

    def scores(self, question: str, learned: list[tuple[str, str]]) -> dict[str, float]:
        """Each intent's closeness to the (masked) question: its closest example, the library's or a
        learned phrase's (`learned`: (masked phrase, intent)), a learned one counting LEARNED_BONUS more."""
        import numpy as np
        q = self.encode([question])[0]
        best: dict[str, float] = {}
        for (intent, _), s in zip(self.texts, (self.vectors @ q).tolist()):
            best[intent] = max(best.get(intent, -1.0), s)
        if learned:  # a taught phrase speaks for its intent on questions that say nearly the same
            missing = [p for p, _ in learned if p not in self.taught]
            if missing:  # each taught phrase is embedded once per process, not on every question
                self.taught.update(zip(missing, self.encode(missing)))
            for (_, intent), s in zip(learned, (np.stack([self.taught[p] for p, _ in learned]) @ q).tolist()):
                if intent and s >= LEARNED_CLOSENESS:
                    best[intent] = max(best.get(intent, -1.0), s + LEARNED_BONUS)
        return best


def _cue_hits(text: str) -> dict[str, int]:
    """How many of each intent's words the text uses: a cue is a word or a stem with an inflection ("anomal"
    in "anomalies", "complain" in "complaints"), never the start of another word ("count" in "country")."""
    padded = f" {text} "
    return {intent: sum(bool(re.search(r"(?<![\w#])" + re.escape(c.strip()) + INFLECTION, padded)) for c in cues)
            for intent, cues in CUES.items()}


def _nudges(text: str, masked: str, found: dict[str, str]) -> dict[str, float]:
    """What the sentence's shape says beyond its words: an imperative "search/find/look up/show me" is a
    search; "talking about X" or "say about X" with an X is a search (topics when nothing follows); a named
    persona asked about a subject ("what do the sweats feel about matchmaking") is a question to that persona."""
    out: dict[str, float] = {}
    if re.match(r"(?:search|find|look up|show me)\b", text):
        out["search"] = 0.3
    subject = re.search(r"\b(?:about|of|regarding|mentioning) (?!they\b)(\w+)", masked)
    if subject and re.search(r"\b(?:talking|say|saying|said|chat|chatting)\b", masked):
        out["search"] = out.get("search", 0) + 0.2
        out["topics"] = -0.2
    if found.get("persona") and subject and re.search(r"\b(?:think|feel|opinion|say|want|frustrat\w*|like|hate|enjoy)\b", masked):
        out["persona"] = 0.3
    return out


# ---- assembling --------------------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _range(since: str, until: str) -> str:
    def one(x: str) -> str:
        return x if x == "all" else _quote(x)
    return f"(time-range {one(since)} {one(until)})"


def _period_text(period: dict[str, Any] | None) -> str | None:
    if not period:
        return None
    if "context" in period:
        return f"(context {period['context']})"
    return _range(period["since"], period["until"])


def _filters_text(found: dict[str, str], skip: tuple[str, ...] = ()) -> str | None:
    parts = [f"({k} {found[k]})" for k in ("source", "channel", "persona") if k in found and k not in skip]
    return "(filters " + " ".join(parts) + ")" if parts else None


AGGREGATIONS = {"median": "median", "mean": "mean", "average": "mean", "distribution": "distribution",
                "spread": "distribution"}


def _analytics(target: str, period: dict[str, Any] | None, found: dict[str, str], text: str = "") -> str:
    how = next((a for w, a in AGGREGATIONS.items() if re.search(rf"\b{w}\b", text)), None) \
        if target in ("sentiment", "volume") else None
    params = [p for p in (_period_text(period), _filters_text(found), how and f"(aggregation {how})") if p]
    return f"(query (type analytics) (target {target})" + (f" (parameters {' '.join(params)}))" if params else ")")


ANALYTICS = ("sentiment", "volume", "topics", "drivers", "anomalies", "forecast", "patterns", "hodge", "crashes")


def compose(intent: str, question: str, text: str, period: dict[str, Any] | None, found: dict[str, str],
            personas: list[str], unperiod: str = "") -> str | None:
    """The query of an intent with the slots found (`unperiod`: the text without its period's words);
    None when the intent needs a slot that is missing."""
    persona = found.get("persona")
    if intent in ANALYTICS:
        return _analytics(intent, period, found, text)
    if intent == "personas":
        return "(personas)"
    if intent == "churn":
        change = _change(text)
        return ("(query (type prediction) (target player-churn))" if not change else
                f"(query (type prediction) (target player-churn) (parameters (change {_quote(change)})))")
    if intent == "risk":
        return "(query (type prediction) (target player-risk))"
    if intent == "reaction":
        change = _change(text)
        if not change:
            return None
        metric = next((m for m in METRICS if _find(text, m)), None)
        target = "player-churn" if re.search(r"\bchurn\b", text) else metric or persona or "community"
        return f"(query (type prediction) (target {target}) (parameters (change {_quote(change)})))"
    if intent == "persona":
        if not persona:
            return None
        return f"(query (type persona-inquiry) (target {persona}) (parameters (question {_quote(question.strip())})))"
    if intent == "compare":
        if len(personas) >= 2:
            return f"(query (type comparison) (target {personas[0]}) (parameters (versus {personas[1]})))"
        if period and "versus" in period:
            target = persona or "community"
            return (f"(query (type comparison) (target {target}) (parameters {_range(period['since'], period['until'])}"
                    f" (versus {_range(*period['versus'])})))")
        return None
    if intent == "search":
        if persona:  # what a named persona says: ask them
            return compose("persona", question, text, period, found, personas, unperiod)
        what = _searched(unperiod)
        return f"(search {_quote(what)} :k 10)" if what else None
    return None


def _read(question: str, words: Vocabulary) -> tuple[str, dict[str, str], list[str], dict[str, Any] | None,
                                                     list[tuple[int, int]], str]:
    """(normalised text, filters, personas named, period, the period's spans, the text with its names
    masked: what the intent is read from)."""
    text = _normal(question)
    comparing = bool(re.search(r"\bcompare|\bvs\b|\bversus\b|\bdiffer", text))
    found, personas, fspans = _filters(text, words)
    period, pspans = _period(text, words, comparing)
    masked = " ".join(_blank(text, pspans + fspans).split()) or text
    for phrase, _ in words.persona_phrases:
        masked = re.sub(r"(?<![\w#])" + re.escape(phrase) + r"(?![\w])", "they", masked)
    return text, found, personas, period, pspans, masked


def translate(question: str, vocab: dict[str, Any], encode: Any, key: Any = None,
              learned: list[tuple[str, str, str]] | None = None) -> Translation:
    """The query `question` means in a workspace whose names are `vocab` (Workspace.vocabulary), by the
    embedder `encode` (texts -> unit vectors; `key` names it for the library's cache). `learned`:
    (phrase, intent, query) corrections, the developer's first. Never runs anything."""
    from .reader import read_one
    started = time.perf_counter()
    words = Vocabulary(vocab)
    text, found, personas, period, pspans, masked = _read(question, words)
    from pilang_engine.api import phrase_of
    own = {phrase: q for phrase, _, q in learned or []}
    said = phrase_of(question)
    if said in own:  # this very question was taught: its query, as taught
        return Translation(question, own[said], 1.0, intent_of(own[said]), {}, [], "a phrase you (or your team)"
                           " taught", learned=said, seconds=time.perf_counter() - started)
    scores = Library.of(encode, key).scores(masked, [(_read(p, words)[5], i) for p, i, _ in learned or []])
    cues = _cue_hits(text)
    nudges = _nudges(text, masked, found)
    total = {i: scores[i] + 0.12 * min(cues.get(i, 0), 2) + nudges.get(i, 0.0) for i in scores}
    ranked = sorted(total, key=lambda i: -total[i])
    slots = {"period": period, "filters": found, "personas": personas}
    candidates = []
    for intent in ranked:
        q = compose(intent, question, text, period, found, personas, " ".join(_blank(text, pspans).split()))
        if q is not None:
            read_one(q)  # the reader checks what is shown is pilang
            candidates.append({"intent": intent, "query": q, "score": round(total[intent], 3)})
    top = candidates[0] if candidates else None
    about_us = bool(period or found or personas or COMMUNITY.search(text))  # a question about the community at all
    named = top is not None and cues.get(top["intent"], 0) > 0
    sure = top is not None and (named or (top["score"] >= NO_QUERY and about_us))
    confidence = 0.0
    if top is not None:
        second = candidates[1]["score"] if len(candidates) > 1 else 0.0
        confidence = max(0.0, min(1.0, 0.5 + (top["score"] - second) * 2.5)) * min(1.0, top["score"] / 0.6)
    why = (f"asks for {top['intent']} (closest examples, {top['score']:.2f}); " if top else "") + ", ".join(
        f"{k} {v}" for k, v in (("period", _period_text(period)), ("filters", _filters_text(found))) if v)
    offered = [{"query": c["query"], "intent": c["intent"], "score": c["score"]} for c in candidates[1:4]]
    if not sure:  # the closest it can make, and a search for the words themselves
        offered = [{"query": c["query"], "intent": c["intent"], "score": c["score"]} for c in candidates[:3]]
        offered.append({"query": f"(search {_quote(question.strip())} :k 10)", "intent": "search", "score": None})
    return Translation(question, top["query"] if sure and top else None, round(confidence, 3) if sure else 0.0,
                       top["intent"] if sure and top else None, slots, offered,
                       why if sure else "no intent is close enough: the closest queries are offered instead",
                       seconds=time.perf_counter() - started)


def intent_of(query: str) -> str | None:
    """The intent a query expresses (what a correction teaches)."""
    if query.startswith("(search"):
        return "search"
    if query.startswith("(personas"):
        return "personas"
    t = re.search(r"\(type ([\w-]+)\)", query)
    target = re.search(r"\(target ([\w-]+)\)", query)
    if not t or not target:
        return None
    kind, what = t.group(1), target.group(1)
    if kind == "analytics":
        return what
    if kind == "persona-inquiry":
        return "persona"
    if kind == "comparison":
        return "compare"
    if kind == "prediction":
        if "(change" in query:
            return "reaction"
        return {"player-churn": "churn", "player-risk": "risk"}.get(what, "reaction")
    return None


def _encoder(ws: Any) -> tuple[Any, Any]:
    """The workspace's embedder as (encode, the library cache's key)."""
    return ws.embedder().encode, (ws.embed_name, ws.embed_precision)


def translate_in(ws: Any, question: str, developer: str | None = None) -> Translation:
    """`translate` in a workspace: its names (personas found first if there are none yet and there are
    players to find them in), its embedder, and the developer's and the team's learned phrases."""
    from pilang_engine.api import ensure_personas, learned_phrases
    vocab = ws.vocabulary()
    if not vocab["personas"] and vocab["last"] is not None:
        try:
            ensure_personas(ws)
            vocab = ws.vocabulary()
        except Exception:  # noqa: BLE001 (too few players: questions without personas still translate)
            pass
    encode, key = _encoder(ws)
    return translate(question, vocab, encode, key, learned_phrases(ws, developer))


def show(t: Translation, color: bool = False) -> str:
    """The translation as the front ends show it: the query (highlighted on a terminal), or why none."""
    if t.query is None:
        lines = [f"; no query for {t.question!r}: {t.why}"]
        lines += [f";   maybe {a['query']}" for a in t.alternatives]
        return "\n".join(lines)
    text = t.query
    if color:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import SchemeLexer
        text = highlight(text, SchemeLexer(), TerminalFormatter()).rstrip("\n")
    return f"; {t.question.strip()}  =>  (confidence {t.confidence:.2f})\n{text}"


def as_form(text: str) -> str:
    """`? a question` (the REPL's and the kernel's plain-words prompt) as the form `(ask "a question")`;
    any other input as it is."""
    stripped = text.strip()
    if stripped.startswith("?") and len(stripped) > 1:
        return "(ask " + _quote(stripped[1:].strip()) + ")"
    return text
