"""Voice notes: audio files transcribed (engine.voice) into messages with source `voice`."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from ...media.voice import AUDIO
from . import Format, Message, Record, Skip, register


def parse(path: Path) -> Iterator[Record]:
    from ...media.voice import transcribe
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]  # the same recording is the same note
    heard = transcribe(path)
    if not heard["text"]:
        yield Skip("no speech heard", str(path))
        return
    yield Message(source="voice", external_id=f"{path.name}:{digest}", text=heard["text"], author=None,
                  platform="voice", time=path.stat().st_mtime,
                  meta={"file": path.name, "duration": heard["duration"], "language": heard["language"],
                        "segments": len(heard["segments"]), "time_from": "file modification time"})


register(Format("voice-note", "voice", lambda p, head: p.suffix.lower() in AUDIO, parse,
                "audio voice notes (wav, flac, mp3, ogg, m4a, opus, webm), transcribed with Whisper tiny.en"))
