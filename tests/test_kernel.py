"""The Jupyter kernel: the jupyter_kernel_test protocol suite, interrupts, and a real notebook."""
from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import jupyter_kernel_test
import nbformat
from jupyter_client.manager import start_new_kernel
from nbclient import NotebookClient
from pilang_kernel.install import install

ROOT = Path(__file__).parent.parent
_SPEC_DIR = tempfile.mkdtemp(prefix="pilang-kernelspec-")
_WORKSPACE = tempfile.mkdtemp(prefix="pilang-kernel-ws-")
atexit.register(shutil.rmtree, _SPEC_DIR, True)  # each run's kernel spec and workspace go with it
atexit.register(shutil.rmtree, _WORKSPACE, True)
install(prefix=_SPEC_DIR)
os.environ["JUPYTER_PATH"] = str(Path(_SPEC_DIR) / "share" / "jupyter")
os.environ["PILANG_WORKSPACE"] = _WORKSPACE


class PilangKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "pilang"
    language_name = "pilang"
    file_extension = ".pil"
    code_hello_world = '(print "hello, world")'
    code_stderr = '(eprint "something went sideways")'
    completion_samples = [{"text": "(defin", "matches": {"define", "defined?"}},
                          {"text": "(string-up", "matches": {"string-upcase"}}]
    complete_code_samples = ["(+ 1 2)", "1", "(define x 1) (print x)", '"a string"']
    incomplete_code_samples = ["(+ 1", '(print "open', "(let ((x 1))", "#| still a comment"]
    invalid_code_samples = [")", "(]", '"bad \\q escape"']
    code_page_something = ",help car"
    code_generate_error = "(car 5)"
    code_execute_result = [{"code": "(+ 1 2)", "result": "3"},
                           {"code": '(list 1 "a" :k)', "result": '(1 "a" :k)'},
                           {"code": "(table [{:player 'ana :minutes 95}])", "mime": "text/html"}]
    code_display_data = [{"code": '(show (html "<b>hi</b>"))', "mime": "text/html"},
                         {"code": '(show (plot [1 3 2] :title "sessions"))', "mime": "image/png"}]
    code_history_pattern = "(+ 1*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "car"
    code_clear_output = '(print "soon gone") (clear-output)'

    def test_error_has_the_caret_rendering(self) -> None:
        self.flush_channels()
        reply, outputs = self.execute_helper('(define (f x) (car x))\n(f "no list")')
        assert reply["content"]["status"] == "error"
        (error,) = [m for m in outputs if m["msg_type"] == "error"]
        assert error["content"]["ename"] == "type error"
        traceback = error["content"]["traceback"]
        assert traceback[0].startswith("<cell-") and ":1:15: type error" in traceback[0]
        assert traceback[1] == "  (define (f x) (car x))" and traceback[2].strip() == "^" * 7

    def test_a_plain_words_question_shows_its_query(self) -> None:
        """`? ...` in a cell goes through the same translator as `pilang ask` (the workspace is empty: the
        query is shown, then its run says there is nothing to count)."""
        self.flush_channels()
        msg_id = self.kc.execute("? how many messages last week")
        printed, seen = "", []
        while True:  # read by hand: the embedder's first load shows a progress widget (comm messages), which
            msg = self.kc.get_iopub_msg(timeout=120)  # the protocol suite's validator does not know
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            seen.append(msg["msg_type"])
            if msg["msg_type"] == "stream":
                printed += msg["content"]["text"]
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        self.kc.get_shell_msg(timeout=30)
        assert "(query (type analytics) (target volume) (parameters (context last-week)))" in printed, seen

    def test_definitions_survive_errors(self) -> None:
        self.flush_channels()
        self.execute_helper("(define kept 41)")
        self.execute_helper("(undefined-thing)")
        reply, outputs = self.execute_helper("(+ kept 1)")
        assert [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"] == ["42"]




def test_interrupt_stops_a_running_evaluation_and_the_kernel_survives() -> None:
    km, kc = start_new_kernel(kernel_name="pilang")
    try:
        kc.execute_interactive("(define before 7)", timeout=30)
        msg_id = kc.execute("(define (spin) (spin)) (spin)")
        time.sleep(1.0)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=10)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=10)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "interrupted"
        assert time.monotonic() - started < 2.0
        results = []
        kc.execute_interactive("(* before 6)", timeout=30,
                               output_hook=lambda m: results.append(m) if m["msg_type"] == "execute_result" else None)
        assert results[0]["content"]["data"]["text/plain"] == "42"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_example_notebook_runs_headless_with_the_expected_outputs() -> None:
    nb = nbformat.read(ROOT / "examples" / "tour.ipynb", as_version=4)
    NotebookClient(nb, kernel_name="pilang", timeout=120, resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [cell.get("outputs", []) for cell in nb.cells if cell.cell_type == "code"]
    flat = [o for cell in outputs for o in cell]
    streams = "".join(o.get("text", "") for o in flat if o["output_type"] == "stream")
    assert "hello from pilang" in streams
    results = [o["data"] for o in flat if o["output_type"] == "execute_result"]
    assert any(r.get("text/plain") == "55" for r in results)
    assert any(re.search(r"<table[ >].*<td", r.get("text/html", "")) for r in results)  # a table, with cells
    assert any("image/png" in o.get("data", {}) for o in flat if o["output_type"] in ("display_data", "execute_result"))
    errors = [o for o in flat if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["ename"] == "unbound error"
    assert nb.metadata["kernelspec"]["name"] == "pilang"


def test_kernel_install_writes_a_spec_with_this_interpreter(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "pilang", "kernel", "install", "--prefix", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    spec = tmp_path / "share" / "jupyter" / "kernels" / "pilang"
    argv = json.loads((spec / "kernel.json").read_text())["argv"]
    assert argv[0] == sys.executable and argv[1:3] == ["-m", "pilang_kernel"]
    assert (spec / "logo-64x64.png").read_bytes().startswith(b"\x89PNG")
    listing = subprocess.run([sys.executable, "-m", "jupyter_client.kernelspecapp", "list"], capture_output=True,
                             text=True, timeout=120, env={**os.environ, "JUPYTER_PATH": str(tmp_path / "share" / "jupyter")})
    assert "pilang" in listing.stdout and str(spec) in listing.stdout


def test_ingest_progress_in_a_notebook_is_a_widget_updated_in_place(tmp_path: Path) -> None:
    """With ipywidgets installed, the engine's bars are widgets: a display_data carrying the widget view,
    the models opened over comms, and updates that end with the count and time."""
    env = {k: v for k, v in os.environ.items() if k != "PILANG_PROGRESS"}  # as a notebook user has it
    km, kc = start_new_kernel(kernel_name="pilang", env={**env, "PILANG_WORKSPACE": str(tmp_path / "ws")})
    msgs: list[dict] = []
    try:
        reply = kc.execute_interactive(f'(ingest "{ROOT / "examples" / "demo" / "tickets.csv"}")', timeout=300,
                                       output_hook=msgs.append)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    opened = {m["content"]["comm_id"]: m["content"]["data"]["state"] for m in msgs if m["msg_type"] == "comm_open"}
    assert {"FloatProgressModel", "LabelModel", "HBoxModel"} <= {s["_model_name"] for s in opened.values()}
    views = [m for m in msgs if m["msg_type"] == "display_data"
             and "application/vnd.jupyter.widget-view+json" in m["content"]["data"]]
    assert len(views) >= 2  # the file's rows, then the embedding
    labels = [m["content"]["data"]["state"]["value"] for m in msgs if m["msg_type"] == "comm_msg"
              and isinstance(m["content"]["data"].get("state", {}).get("value"), str)]
    assert any(re.fullmatch(r"tickets\.csv: 48 rows in \d+\.\d s", v) for v in labels), labels
    assert any(re.fullmatch(r"embedding: \d+ texts in \d+\.\d s", v) for v in labels), labels
    assert not [m for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]
