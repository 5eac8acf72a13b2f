"""Speech in pilang: `(transcribe "clip.wav")`, `(voice->query "clip.wav")` and `(voice-query "clip.wav")`,
which shows what it heard and the query it made, then runs that query (the REPL's `,voice FILE`)."""
from __future__ import annotations

import sys
from typing import Any

from .errors import PilangError
from .reader import read
from .registry import primitive


def register(session: Any) -> None:
    """Bind the speech primitives into a session."""
    env, link = session.env, session.engine

    def heard(path: Any) -> dict[str, Any]:
        from engine.voice import transcribe
        if type(path) is not str:
            raise PilangError("type", "speech needs the audio file's path as a string")
        try:
            return link.guard(transcribe)(path)
        except FileNotFoundError as exc:
            raise PilangError("io", str(exc)) from None

    @primitive("transcribe", env)
    def p_transcribe(path: Any) -> dict[Any, Any]:
        """What an audio file says (Whisper tiny.en, offline): {:text :segments :language :duration}."""
        from .bridge import to_pilang
        return to_pilang(heard(path))

    @primitive("voice->query", env)
    def voice_to_query(path: Any) -> list[Any]:
        """[transcript query-source rule]: the query a spoken question asks, not yet run."""
        from engine.voice import to_query
        text = heard(path)["text"]
        names = link.persona_names()
        query, rule = to_query(text, names)
        return [text, query, rule]

    @primitive("voice-query", env)
    def voice_query(path: Any) -> Any:
        """Transcribe a spoken question, show the transcript and the query made of it, and run it."""
        text, query, rule = voice_to_query(path)
        print(f"; heard: {text}\n; query ({rule}): {query}", file=sys.stderr)
        value = None
        for form, span in read(query, "<voice>"):
            value = session._eval_toplevel(form, span)
        return value
