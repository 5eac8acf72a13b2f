"""Speech: transcription on the real public-domain clips (word error rate), voice notes as messages,
and spoken questions turned into queries that are shown and then run."""
from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.media import voice
from pilang_engine.workspace.store import Workspace

from pilang.errors import PilangError
from pilang.repl import run_command
from pilang.session import Session

@pytest.fixture(scope="module")
def speech(shared_data: Any) -> Path:
    return shared_data("speech-samples-public-domain")


def test_transcripts_of_the_public_domain_clips(speech: Path) -> None:
    jfk = voice.transcribe(speech / "jfk.flac")
    text = jfk["text"].lower()
    assert all(p in text for p in ("my fellow americans", "your country", "do for you"))  # whisper's own test
    assert 10 < jfk["duration"] < 12 and jfk["language"] == "en"
    refs = voice.references(speech)
    assert len(refs) == 8
    wer = voice.word_error_rate(list(refs.values()), [voice.transcribe(p)["text"] for p in refs])
    assert wer < 0.15


def test_voice_notes_become_messages(speech: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    shutil.copy(speech / "jfk.flac", notes / "note1.flac")
    ws = Workspace(tmp_path / "ws")
    report = ingest(ws, [notes], progress=False)
    assert report.taken["messages"] == 1 and not report.errors
    (source, text, meta) = ws.db.execute("SELECT source, text, meta FROM messages").fetchone()
    assert source == "voice" and "fellow Americans" in text and '"duration"' in meta
    assert ingest(ws, [notes], progress=False).taken["messages"] == 0  # the same recording is not taken twice


def test_a_spoken_sentence_that_asks_nothing_of_the_community_runs_nothing(speech: Path, demo_copy: Any) -> None:
    """JFK's clip through the typed questions' translator (pilang/ask.py): no query, the closest offered,
    a search for the words among them."""
    session = Session(workspace=demo_copy("voice"))
    with pytest.raises(PilangError, match="heard: And so, my fellow Americans") as caught:
        session.eval_text(f'(voice-query "{speech / "jfk.flac"}")')
    assert '(search "And so, my fellow Americans' in str(caught.value.message)
    out = io.StringIO()
    run_command(session, f",voice {speech / 'jfk.flac'}", out)
    with pytest.raises(Exception, match="no such audio file"):
        session.eval_text('(transcribe "missing.wav")')
