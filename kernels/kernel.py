"""PilangKernel: an ipykernel wrapper kernel over one pilang Session."""
from __future__ import annotations

import os
import re
import sys
import time
import warnings
from typing import Any

from ipykernel.kernelbase import Kernel
from pilang_engine.api import set_reporter

from pilang import __version__
from pilang.ask import as_form
from pilang.errors import PilangError
from pilang.output.answers import mime_bundle
from pilang.introspect import HELP, completeness, completions, documentation, word_length
from pilang.session import Session

from . import progress as widgets

# tqdm's notebook bars need ipywidgets; without them tqdm warns in red on every fresh kernel's first
# engine call. The text bars it falls back to are what pilang wants, so the warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found")


class PilangKernel(Kernel):
    implementation = "pilang"
    implementation_version = __version__
    language = "pilang"
    language_version = __version__
    language_info = {"name": "pilang", "version": __version__, "mimetype": "text/x-pilang",
                     "file_extension": ".pil", "pygments_lexer": "pilang", "codemirror_mode": "scheme"}
    banner = f"pilang {__version__}: the Player Intelligence Language"
    help_links = [{"text": "pilang README", "url": "https://pypi.org/project/pilang/"}]

    def __init__(self, **kwargs: Any) -> None:
        os.environ.setdefault("PILANG_PROGRESS", "notebook")  # ingest shows its progress in the cell
        super().__init__(**kwargs)
        server = os.environ.get("PILANG_SERVER")
        if server:  # a team server evaluates; values come back rendered, prints with them
            from pilang.server.client import RemoteSession
            self.pil: Any = RemoteSession(server, os.environ.get("PILANG_TOKEN"), mime=True)
        else:
            self.pil = Session(workspace=os.environ.get("PILANG_WORKSPACE") or None)
        self.pil.show = self._display
        self.pil.before_eval.append(self._attach_output)
        self.pil.env["clear-output"] = self._clear_output_primitive()
        if widgets.available() and not server:  # progress as a widget; else the engine's stream line on stdout
            widgets.enable_comms(self)
            set_reporter(widgets.reporter(self._send_display))
        self.history: list[tuple[int, int, str, str | None]] = []  # (session, line, input, output)

    def _attach_output(self) -> None:
        """On the evaluation thread: send its prints to the cell being executed."""
        parent = self.get_parent("shell")
        for stream in (sys.stdout, sys.stderr):
            if hasattr(stream, "set_parent"):
                stream.set_parent(parent)

    def _clear_output_primitive(self) -> Any:
        from pilang.registry import primitive
        env: dict[str, Any] = {}

        @primitive("clear-output", env)
        def clear_output(wait: Any = False) -> None:
            """Clear this cell's output so far (notebooks only)."""
            sys.stdout.flush()
            self.send_response(self.iopub_socket, "clear_output", {"wait": bool(wait)})
        return env["clear-output"]

    def _display(self, value: Any) -> None:
        self._send_display(mime_bundle(value))

    def _send_display(self, bundle: dict[str, Any]) -> None:
        sys.stdout.flush()
        self.send_response(self.iopub_socket, "display_data", {"data": bundle, "metadata": {}})

    async def do_execute(self, code: str, silent: bool, store_history: bool = True,
                         user_expressions: dict[str, Any] | None = None, allow_stdin: bool = False,
                         *, cell_meta: Any = None, cell_id: Any = None) -> dict[str, Any]:
        if code.strip().startswith(","):
            return self._command(code.strip())
        return self._execute(code, silent, store_history)

    def _execute(self, code: str, silent: bool, store_history: bool) -> dict[str, Any]:
        """Evaluate a cell: prints stream as they happen, the value is the execute_result."""
        try:
            value = self.pil.eval_text(as_form(code), f"<cell-{self.execution_count}>")
        except PilangError as err:
            return self._error(f"{err.kind} error", err.message, err.render().split("\n"), code, store_history)
        except KeyboardInterrupt:
            return self._error("interrupted", "the evaluation was interrupted", ["interrupted"], code, store_history)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        shown = None
        if value is not None and not silent:
            bundle = mime_bundle(value)
            shown = bundle["text/plain"]
            self.send_response(self.iopub_socket, "execute_result",
                               {"execution_count": self.execution_count, "data": bundle, "metadata": {}})
        self.pil.say_notes()  # after the answer they are about
        sys.stdout.flush()
        if store_history:
            self.history.append((1, self.execution_count, code, shown))
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def _error(self, ename: str, evalue: str, traceback: list[str], code: str, store: bool) -> dict[str, Any]:
        content = {"ename": ename, "evalue": evalue, "traceback": traceback}
        self.send_response(self.iopub_socket, "error", content)
        if store:
            self.history.append((1, self.execution_count, code, None))
        return {"status": "error", "execution_count": self.execution_count, **content}

    def _command(self, line: str) -> dict[str, Any]:
        """,help [name] pages documentation; ,time EXPR times a cell."""
        cmd, _, arg = line[1:].partition(" ")
        if cmd in ("help", "doc", "h"):
            text = documentation(self.pil, arg.strip()) if arg.strip() else HELP
            payload = [{"source": "page", "data": {"text/plain": text}, "start": 0}]
            return {"status": "ok", "execution_count": self.execution_count, "payload": payload,
                    "user_expressions": {}}
        if cmd == "time":
            started = time.perf_counter()
            reply = self._execute(arg, False, True)
            print(f"; {1000 * (time.perf_counter() - started):.1f} ms")
            return reply
        return self._error("command error", f"unknown command ,{cmd} (try ,help)", [f"unknown command ,{cmd}"],
                           line, False)

    async def do_complete(self, code: str, cursor_pos: int) -> dict[str, Any]:
        before = code[:cursor_pos]
        found = completions(self.pil, before)
        return {"status": "ok", "matches": [name for name, _ in found], "cursor_start": cursor_pos - word_length(before),
                "cursor_end": cursor_pos, "metadata": {"_jupyter_types_experimental": [
                    {"text": name, "type": "", "signature": meta} for name, meta in found]}}

    async def do_inspect(self, code: str, cursor_pos: int, detail_level: int = 0,
                         omit_sections: Any = ()) -> dict[str, Any]:
        match = None
        for m in re.finditer(r"[^\s()\[\]{}\"';`,]+", code):
            if m.start() <= cursor_pos <= m.end():
                match = m
        word = match.group(0) if match else ""
        text = documentation(self.pil, word) if word else ""
        found = bool(word) and "is not defined" not in text
        return {"status": "ok", "found": found, "data": {"text/plain": text} if found else {}, "metadata": {}}

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status, indent = completeness(code)
        return {"status": status, "indent": indent} if status == "incomplete" else {"status": status}

    async def do_history(self, hist_access_type: str, output: bool, raw: bool, session: int | None = None,
                         start: int | None = None, stop: int | None = None, n: int | None = None,
                         pattern: str | None = None, unique: bool = False) -> dict[str, Any]:
        rows = self.history
        if hist_access_type == "tail":
            rows = rows[-n:] if n else rows
        elif hist_access_type == "range":
            rows = [r for r in rows if (session in (None, r[0])) and (start is None or r[1] >= start)
                    and (stop is None or r[1] < stop)]
        elif hist_access_type == "search":
            regex = re.compile(re.escape(pattern or "*").replace(r"\*", ".*").replace(r"\?", "."), re.S)
            rows = [r for r in rows if regex.fullmatch(r[2])]
            if unique:
                seen: set[str] = set()
                rows = [r for r in reversed(rows) if not (r[2] in seen or seen.add(r[2]))][::-1]
            rows = rows[-n:] if n else rows
        out = [(s, line, (code, shown) if output else code) for s, line, code, shown in rows]
        return {"status": "ok", "history": out}

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.pil.close()
        return {"status": "ok", "restart": restart}


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp
    IPKernelApp.launch_instance(kernel_class=PilangKernel)


if __name__ == "__main__":
    main()
