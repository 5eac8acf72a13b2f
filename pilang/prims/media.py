"""Voice and images: `(transcribe "clip.wav")`, `(voice->query "clip.wav")`, `(voice-query "clip.wav")`
(shows what it heard and the query it made, then runs that query; the REPL's `,voice FILE`), and image
embeddings with an open_clip checkpoint the user supplies."""
from __future__ import annotations

import sys
from typing import Any

from ..bridge import table, to_pilang, to_python
from ..errors import PilangError
from ..reader import read
from ..registry import session_primitive
from ..table import Table


def _heard(s: Any, path: Any) -> dict[str, Any]:
    from pilang_engine.api import transcribe
    if type(path) is not str:
        raise PilangError("type", "speech needs the audio file's path as a string")
    try:
        return s.engine.guard(transcribe)(path)
    except FileNotFoundError as exc:
        raise PilangError("io", str(exc)) from None


@session_primitive("transcribe", paths={"path": "read"})
def transcribe(s: Any, path: Any) -> dict[Any, Any]:
    """What an audio file says (Whisper tiny.en, offline): {:text :segments :language :duration}."""
    return to_pilang(_heard(s, path))


@session_primitive("voice->query", paths={"path": "read"})
def voice_to_query(s: Any, path: Any) -> list[Any]:
    """[transcript query-source why]: the query a spoken question asks (the typed questions' translator,
    pilang/ask.py), not yet run; query-source is nil when the words map to no query."""
    from ..ask import translate_in
    from ..learner import developer
    text = _heard(s, path)["text"]
    t = s.engine.guard(translate_in)(s.engine.workspace(), text, developer())
    s.learner.asked(t)
    return [text, t.query, t.why]


@session_primitive("voice-query", paths={"path": "read"})
def voice_query(s: Any, path: Any) -> Any:
    """Transcribe a spoken question, show the transcript and the query made of it, and run it (a question
    that maps to no query is an error that offers the closest ones)."""
    text, query, why = voice_to_query(s, path)
    if query is None:
        from ..ask import show
        raise PilangError("value", f"heard: {text}\n" + show(s.learner.last_ask[0]).replace("; ", "", 1))
    print(f"; heard: {text}\n; query ({why}): {query}", file=sys.stderr)
    value = None
    for form, span in read(query, "<voice>"):
        value = s._eval_toplevel(form, span)
    return value


@session_primitive("ingest-images", paths={"paths": "read", "checkpoint": "read", "config": "read"})
def ingest_images(s: Any, *paths: Any, checkpoint: Any = None, model: Any = None, config: Any = None) -> dict[Any, Any]:
    """Embed image files (or folders) with an open_clip model from a local checkpoint file."""
    from pilang_engine.api import ingest_images as run
    out = s.engine.guard(run)(s.engine.workspace(), [to_python(p) for p in paths], to_python(model),
                              to_python(checkpoint), to_python(config))
    return to_pilang(out)


@session_primitive("search-images")
def search_images(s: Any, text: str, *, k: int = 5) -> Table:
    """Images closest in meaning to the text (CLIP embeddings, their own faiss index)."""
    from pilang_engine.api import search_images as run
    if type(text) is not str:
        raise PilangError("type", "search-images needs the query text as a string")
    return table(s.engine.guard(run)(s.engine.workspace(), text, int(k)), ["score", "path", "width", "height", "id"],
                 f"images: {text!r}")
