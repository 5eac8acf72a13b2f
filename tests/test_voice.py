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

from pilang.repl import run_command
from pilang.session import Session
from pilang.table import Table

PERSONAS = ["casual-players", "competitive-players", "new-players", "loot-grinders"]


@pytest.mark.parametrize("said, query", [
    ("How would competitive players react to increased difficulty?",
     '(query (type persona-inquiry) (target competitive-players) (parameters (question "How would competitive players'
     ' react to increased difficulty?")))'),
    ("What happens to churn if we nerf weapon damage?",
     '(query (type prediction) (target player-churn) (parameters (change "nerf weapon damage")))'),
    ("What would new players do if we remove the tutorial?",
     '(query (type prediction) (target new-players) (parameters (change "remove the tutorial")))'),
    ("Show me the sentiment since the last patch", "(query (type analytics) (target sentiment) (parameters (context last-patch)))"),
    ("Any unusual spikes?", "(query (type analytics) (target anomalies))"),
    ("Compare loot grinders versus casual players",
     "(query (type comparison) (target loot-grinders) (parameters (versus casual-players)))"),
    ('the "best" build', '(search "the \\"best\\" build" :k 10)'),
])
def test_spoken_questions_become_queries(said: str, query: str) -> None:
    assert voice.to_query(said, PERSONAS)[0] == query


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


def test_voice_query_shows_the_query_and_runs_it(speech: Path, demo_copy: Any, capsys: pytest.CaptureFixture) -> None:
    session = Session(workspace=demo_copy("voice"))
    value = session.eval_text(f'(voice-query "{speech / "jfk.flac"}")')
    err = capsys.readouterr().err
    assert "; heard: And so, my fellow Americans" in err and "; query (no query words" in err
    assert isinstance(value, Table) and len(value) == 10
    out = io.StringIO()
    assert run_command(session, f",voice {speech / 'jfk.flac'}", out)
    assert "score" in out.getvalue()
    with pytest.raises(Exception, match="no such audio file"):
        session.eval_text('(transcribe "missing.wav")')
