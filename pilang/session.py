"""A Session: one global environment, its compiler, its evaluation thread; every front end uses one."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

from . import (
    bounds,
    prims,  # noqa: F401  (registers every primitive)
)
from . import compiler as C
from .bridge import EngineLink
from .datum import Pair, Span, Symbol, from_iter
from .errors import PilangError, from_exception
from .files import Files, path_text
from .learner import Learner
from .reader import read, read_file
from .registry import PRIMITIVES, bind_session
from .resources import stdlib_dir
from .runtime import EvalThread, Macro, TailCall, bounce


class Session:
    """The state a user works in: definitions persist across evaluations, errors lose nothing."""

    def __init__(self, prelude: bool = True, workspace: str | Path | None = None, developer: str | None = None,
                 sandbox: Callable[[Session], None] | None = None) -> None:
        """`developer` names who works here for the learner (default $PILANG_DEVELOPER, else the OS user);
        `sandbox(session)`, when given, restricts what the session's code may reach (the team server's
        policy) before any library code is loaded, so nothing defined later holds an unrestricted primitive."""
        self.env: dict[str, Any] = {"__builtins__": {}}
        self.env.update(PRIMITIVES)
        self.engine = EngineLink(workspace)
        self.files = Files()  # which files code may read and write (a sandbox narrows it)
        self.role = "admin"  # what the learner lets this session change (a server session's token says)
        self.learner = Learner(self)
        if developer:
            self.learner.developer = developer
        bind_session(self.env, self)
        self.engine.on_open.append(self.learner.load_learned)
        self.show: Callable[[Any], None] = _print_value  # a notebook front end replaces this
        self.before_eval: list[Callable[[], None]] = []  # run on the evaluation thread before each job
        self.env.update({
            C.HELPER_TC: TailCall, C.HELPER_BOUNCE: bounce, C.HELPER_PAIR: Pair,
            C.HELPER_LIST: from_iter, C.HELPER_ITEMS: _splice_items, C.HELPER_SETG: self._set_global,
            C.HELPER_ENV: self.env, C.HELPER_ERR: from_exception, C.HELPER_LOAD: self._load_from,
            C.HELPER_EXC: Exception, C.HELPER_MACRO: Macro, C.HELPER_MUL: bounds.mul,
        })
        self.compiler = C.Compiler(self.env, {name: self.env[name] for name in C.INLINE})
        self.thread = EvalThread()
        self._inputs = count(1)
        if sandbox is not None:
            sandbox(self)
        if prelude:
            for name in ("prelude.pil", "query.pil"):
                self.load(stdlib_dir() / name)

    # ---- evaluation ------------------------------------------------------------------------

    def run(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the evaluation thread, turning any escaping error into a PilangError."""
        def guarded() -> Any:
            try:
                for hook in self.before_eval:
                    hook()
                return fn()
            except PilangError as err:
                raise from_exception(err) from None
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:
                raise from_exception(exc)  # noqa: B904  (the cause is kept for --debug)
        return self.thread.run(guarded)

    def eval_forms(self, forms: list[tuple[Any, Span]],
                   each: Callable[[Any, Any], None] | None = None) -> Any:
        """Compile and run top-level forms in order; the value of the last. Each form is an
        interaction for the learner once a workspace is open; `each(form, value)` sees every one."""
        def go() -> Any:
            value = None
            for form, span in forms:
                started = time.perf_counter()
                try:
                    value = self._eval_toplevel(form, span)
                except Exception as exc:
                    self._record(form, None, exc, started)
                    raise
                self._record(form, value, None, started)
                if each is not None:
                    each(form, value)
                    self.say_notes()  # after the form's own output
            return value
        return self.run(go)

    def say_notes(self) -> None:
        """The learner's notes on what was just evaluated, on stdout (a notebook shows them as output, not in
        red; under --json the CLI points stdout at stderr): front ends call this after showing the value."""
        for note in self.learner.take_notes():
            print(note, file=sys.stdout)

    def _record(self, form: Any, value: Any, error: BaseException | None, started: float) -> None:
        try:
            self.learner.record(form, value, error, started)
        except Exception as exc:  # the learner must never cost the user an evaluation
            print(f"; the learner could not record this form: {exc}", file=sys.stderr)

    def eval_here(self, source: str, file: str = "<learned>") -> None:
        """Evaluate source text on the current (evaluation) thread, unrecorded: learned definitions."""
        for form, span in read(source, file):
            self._eval_toplevel(form, span)

    def replay(self, source: str, file: str) -> None:
        """Evaluate a definition made earlier (a server session starting again), unrecorded."""
        self.run(lambda: self.eval_here(source, file))

    def close(self) -> None:
        """Close the workspace (if this session opened it) and end the evaluation thread."""
        self.engine.close()
        self.thread.stop()

    def _eval_toplevel(self, form: Any, span: Span) -> Any:
        # a name nobody defined may be a learned macro: installed ones load when the workspace opens, an
        # offered one is installed by using it
        if (type(form) is Pair and type(form.car) is Symbol and form.car.name not in self.env
                and form.car not in self.compiler.specials and self.engine.exists()):
            self.learner.define_on_use(form.car.name)
        # a top-level begin runs form by form, so a macro it defines is usable in the next form
        if type(form) is Pair and form.car is C.BEGIN:
            value = None
            for sub, sspan in self.compiler.items(form, span)[1:]:
                value = self._eval_toplevel(sub, sspan)
            return value
        return bounce(self.compiler.compile_toplevel(form, span)())

    def eval_text(self, text: str, file: str | None = None, each: Callable[[Any, Any], None] | None = None) -> Any:
        """Read and evaluate all forms of `text` (named `file` in errors, else <input-N>); `each(form,
        value)` after each top-level form."""
        return self.eval_forms(read(text, file or f"<input-{next(self._inputs)}>"), each)

    def eval_datum(self, datum: Any, span: Span | None = None) -> Any:
        """Evaluate one datum (as `eval` does)."""
        span = span or getattr(datum, "span", None) or Span("<eval>", 1, 1, 1, 1)
        return self.run(lambda: self._eval_toplevel(datum, span))

    def load(self, path: str | Path, each: Callable[[Any, Any], None] | None = None) -> None:
        """Evaluate every form of a source file (`each(form, value)` after each top-level form)."""
        self.eval_forms(read_file(path), each or (lambda form, value: None))  # notes after each form's output

    def _load_from(self, path: Any, from_file: str) -> None:
        """`(load "x.pil")`: evaluate the file `load_target` names."""
        name = path_text(path, "load")  # a symbol or keyword names a file too, as for every primitive
        if not isinstance(name, str):
            raise PilangError("type", "load needs one file name")
        for form, span in read_file(self.files.load_target(name, from_file)):
            self._eval_toplevel(form, span)
        return None

    def _set_global(self, name: str, value: Any) -> None:
        if name not in self.env:
            raise PilangError("unbound", f"set!: {name} is not defined (use define first)")
        self.env[name] = value

    def query_types(self) -> list[str]:
        """The query types, as the query evaluator (stdlib/query.pil's `query-types`) defines them."""
        return [t.name if isinstance(t, Symbol) else str(t) for t in (self.env.get("query-types") or ())]

    def query_targets(self) -> list[str]:
        """Names `(target ...)` can take, for completion: the list bound to *query-targets* and the
        workspace's persona names."""
        targets = self.env.get("*query-targets*")
        names = {t.name if isinstance(t, Symbol) else str(t) for t in (targets or ())}
        return sorted(names | set(self.engine.persona_names()))

    def expand_1(self, form: Any) -> tuple[Any, bool]:
        """(expansion, True) if form is a macro call, else (form, False)."""
        if type(form) is Pair and type(form.car) is Symbol:
            macro = self.env.get(form.car.name)
            if type(macro) is Macro:
                span = getattr(form, "span", None) or Span("<macroexpand>", 1, 1, 1, 1)
                return self.compiler.expand_once(form, macro, span), True
        return form, False


def _print_value(value: Any) -> None:
    """How a terminal shows a value: its printed form on stdout."""
    from .output.notation import write_string
    print(write_string(value))


def _splice_items(x: Any) -> Any:
    """What ,@ splices: the elements of a list or vector."""
    if x is None:
        return ()
    if type(x) is Pair or isinstance(x, (list, tuple)):
        return x
    raise PilangError("type", "unquote-splicing (,@) needs a list or vector")

