"""The tetration learner as pilang sees it: every top-level form evaluated with a workspace open is
recorded as an interaction; ratings, learned macros and aliases, the learning log and freezing are
primitives; learned macros are real `defmacro`s in the session (so `macroexpand` shows them)."""
from __future__ import annotations

import getpass
import os
import random
import time
import uuid
from typing import Any

from .datum import Keyword, Pair, Symbol, from_iter, is_list
from .output.notation import display_string, write_string
from .result import Result, newest
from .table import Table

# Forms that talk to the learner are not themselves interactions to learn from.
LEARNER_FORMS = {"rate", "accept", "forget", "learned-macros", "learning-log", "freeze-learning",
                 "unfreeze-learning", "undo-learning", "handler-scores"}


def to_tree(x: Any) -> Any:
    """A datum as the learner's tree (see engine.learning.shapes)."""
    if type(x) is Symbol:
        return ["S", x.name]
    if type(x) is Keyword:
        return ["K", x.name]
    if type(x) is str:
        return ["T", x]
    if type(x) is Pair:
        if not is_list(x):  # a dotted tail: kept whole, as text
            return ["T", write_string(x)]
        return ["L", *(to_tree(v) for v in x)]
    if isinstance(x, list):
        return ["V", *(to_tree(v) for v in x)]
    if isinstance(x, dict):
        return ["T", write_string(x)]
    return x


def from_tree(t: Any) -> Any:
    """The learner's tree as a datum again."""
    if isinstance(t, list):
        tag = t[0]
        if tag == "S":
            return Symbol(t[1])
        if tag == "K":
            return Keyword(t[1])
        if tag == "T":
            return t[1]
        items = [from_tree(v) for v in t[1:]]
        return from_iter(items) if tag == "L" else items
    return t


def developer() -> str:
    """$PILANG_DEVELOPER, else the OS user."""
    return os.environ.get("PILANG_DEVELOPER") or getpass.getuser()


def query_parts(form: Any) -> tuple[str | None, str | None]:
    """(type, target) of the first (query ...) in a form (a script prints it: (print (query ...))), else
    (None, None)."""
    stack = [form]
    while stack:
        x = stack.pop()
        if type(x) is not Pair or not is_list(x):
            continue
        if x.car is Symbol("query"):
            found = {}
            for clause in x.cdr or ():
                if type(clause) is Pair and type(clause.car) is Symbol and type(clause.cdr) is Pair:
                    found[clause.car.name] = clause.cdr.car
            kind, target = found.get("type"), found.get("target")
            return (kind.name if type(kind) is Symbol else None), (target.name if type(target) is Symbol else None)
        stack.extend(reversed(list(x)))
    return None, None


class Learner:
    """One session's link to the learner: who is working, which session, what it learned lately."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.developer = developer()
        self.id = uuid.uuid4().hex[:12]
        self.rng = random.Random()
        self.aliases_used: list[str] = []
        self.loaded = False
        # the candidate handlers ratings are folded among; None: whatever `handler-candidates` is bound
        # to now (a local user may rebind it); the team server fixes the library's
        self.fixed_candidates: Any = None
        self.notes: list[str] = []  # said after the answer they follow (`take_notes`), each offer once
        self.offered: set[str] = set()
        self.last_ask: tuple[Any, float] | None = None  # the last plain-words translation shown, and when

    def asked(self, translation: Any) -> None:
        """A question became `translation` (pilang/ask.py): the next query run within the learner's clarify
        time, if it differs from the one shown, is taken as the developer's correction of it."""
        self.last_ask = (translation, time.monotonic())

    def _learn_phrase(self, ws: Any, query: str, why: str) -> None:
        from pilang_engine.api import learn_phrase

        from .ask import intent_of
        t = self.last_ask[0] if self.last_ask else None
        self.last_ask = None
        if t is None:
            return
        done = learn_phrase(ws, self.developer, t.question, query, intent_of(query), why)
        if done:
            self.notes.append(f"; learned: {t.question.strip()!r} means {query} for you"
                              + (" and now the team" if done["promoted"] else "")
                              + f" ((undo-learning {done['log']}) undoes it)")

    def rated(self, rating: int) -> None:
        """A rating of 4 or 5 of an asked question's answer confirms what it was translated to."""
        ws = self.workspace()
        if ws is not None and self.last_ask and self.last_ask[0].query and rating >= 4:
            self._learn_phrase(ws, self.last_ask[0].query, f"the answer to the translated query was rated {rating}")

    def workspace(self) -> Any | None:
        """The workspace if this session has opened it (recording never opens one)."""
        return self.session.engine._ws

    def load_learned(self, ws: Any) -> None:
        """Define the developer's installed and the team's promoted macros in the session."""
        from pilang_engine.api import active_shapes as active
        self.loaded = True
        for name, definition in active(ws, self.developer, "macro").items():
            if name not in self.session.env or getattr(self.session.env[name], "name", None) == name:
                self.session.eval_here(definition)

    def define_on_use(self, name: str) -> None:
        """Make an unbound name a learned macro if it is one: load the installed ones, or install the
        developer's offered macro of that name (using an offer accepts it)."""
        ws = self.session.engine.workspace()  # opening it loads the installed macros
        if name in self.session.env or not name.startswith("my-"):
            return
        from pilang_engine.api import offered_shapes as offered
        if name in offered(ws, self.developer):
            from pilang_engine.api import accept_shape as accept
            self.session.eval_here(accept(ws, self.developer, name, "used by"))

    def record(self, form: Any, value: Any, error: BaseException | None, started: float) -> None:
        """Store the top-level form as an interaction, and say what the learner made of it."""
        ws = self.workspace()
        head = form.car.name if type(form) is Pair and type(form.car) is Symbol else None
        if ws is None or head in LEARNER_FORMS:
            return
        if head in ("query", "search") and self.last_ask is not None and error is None:
            t, when = self.last_ask
            edited = " ".join(write_string(form).split())
            from pilang_engine.api import learning_params
            if time.monotonic() - when <= learning_params(ws)["clarify_seconds"] and edited != t.query:
                self._learn_phrase(ws, edited, f"the developer edited the query {t.query} and ran {edited}")
        elif head != "ask":
            self.last_ask = None
        from pilang_engine.api import record_interaction as record
        qtype, qtarget = query_parts(form)
        expansion = self.session.expand_1(form)[0] if head else form
        # the answer this form produced, even when it printed it rather than returned it
        result = value if isinstance(value, Result) else (
            newest() if newest() is not None and newest().created >= started else None)
        is_query = qtype is not None or result is not None or isinstance(value, Table) or (
            head is not None and self.session.env.get(head) is not None and head.startswith("my-"))
        handler = result.data.get(Keyword("handler")) if result is not None else None
        if result is not None:
            summary = display_string(result.data.get(Keyword("answer")))
        elif error is None and (value is None or isinstance(value, (int, float, str, Symbol, Keyword))):
            summary = write_string(value)[:500]
        else:  # a large value is not written out just to be summarised
            summary = "" if error else f"#<{type(value).__name__}{f' of {len(value)}' if isinstance(value, list) else ''}>"
        used, self.aliases_used = self.aliases_used, []
        if head and head.startswith("my-") and head in self.session.env:
            used.append(head)
        out = record(ws, self.id, self.developer, write_string(form), to_tree(form), write_string(expansion),
                     getattr(handler, "name", None), summary, (time.perf_counter() - started) * 1000,
                     None if error is None else str(getattr(error, "message", error)),
                     "query" if is_query else "other", qtype, qtarget, used)
        # notes, not errors: kept until the answer is shown, then said after it (`take_notes`)
        if "alias" in out:
            a = out["alias"]
            self.notes.append(f"; learned: {a['alias']} means {a['to']} for you ((forget '{a['alias']}) undoes it)")
        if "offer" in out and out["offer"]["name"] not in self.offered:
            o = out["offer"]
            self.offered.add(o["name"])
            self.notes.append(f"; tip: (accept '{o['name']}) makes a shorthand for this shape you often write")

    def take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def candidates(self) -> dict[tuple[str, str], list[str]]:
        """The query evaluator's candidate handlers per (type, target), from `handler-candidates`."""
        out: dict[tuple[str, str], list[str]] = {}
        entries = self.fixed_candidates if self.fixed_candidates is not None else self.session.env.get("handler-candidates")
        for entry in entries or ():
            key, *handlers = list(entry)
            type_, target = list(key)
            out[(type_.name, target.name)] = [h.name for h in handlers]
        return out
