"""The `pilang` command as users and CI run it: scripts, -e, stdin, exit codes, error output."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PILANG = [sys.executable, "-m", "pilang"]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(PILANG + list(args), input=stdin, capture_output=True, text=True, timeout=60, cwd=cwd)


def test_script_runs_and_exits_zero(tmp_path: Path) -> None:
    script = tmp_path / "ok.pil"
    script.write_text('(define (greet who) (str "hello, " who))\n(print (greet "player"))\n(print *argv*)\n')
    result = run(str(script), "a", "b")
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'hello, player\n[a b]\n'


def test_script_error_exits_one_with_the_place_and_no_python_traceback(tmp_path: Path) -> None:
    script = tmp_path / "bad.pil"
    script.write_text('(print "before")\n(define (f x) (car x))\n(f 42)\n(print "never")\n')
    result = run(str(script))
    assert result.returncode == 1
    assert result.stdout == "before\n"
    lines = result.stderr.splitlines()
    assert lines[0] == f"{script}:2:15: type error: car needs a non-empty list, got integer"
    assert lines[1:3] == ["  (define (f x) (car x))", "                ^^^^^^^"]
    assert "in f at" in result.stderr and "Traceback" not in result.stderr


def test_debug_flag_adds_the_python_traceback(tmp_path: Path) -> None:
    script = tmp_path / "bad.pil"
    script.write_text("(car 1)\n")
    result = run("--debug", str(script))
    assert result.returncode == 1 and "Traceback" in result.stderr and "bad.pil:1:1" in result.stderr


def test_syntax_error_in_script(tmp_path: Path) -> None:
    script = tmp_path / "syntax.pil"
    script.write_text("(print 1)\n(print (+ 1 2)\n")
    result = run(str(script))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{script}:2:1: syntax error: '(' is never closed")
    assert result.stdout == ""  # nothing runs from a file that does not read


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    script = tmp_path / "latin1.pil"
    script.write_bytes(b"(print \"\xff\")\n")
    result = run(str(script))
    assert result.returncode == 1 and "1:9: syntax error: not valid UTF-8" in result.stderr
    result = run(str(tmp_path / "missing.pil"))
    assert result.returncode == 1 and "io error: cannot read" in result.stderr


def test_eval_option_prints_values() -> None:
    result = run("-e", "(+ 1 2)", "-e", "(list 'a \"b\")")
    assert result.returncode == 0 and result.stdout == '3\n(a "b")\n'
    result = run("-e", "(+ 1")
    assert result.returncode == 1 and "<-e>:1:1: syntax error" in result.stderr


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.startswith("pilang ")


def test_stdin_is_read_when_it_is_not_a_terminal() -> None:
    result = run(stdin="(+ 1 2)\n(define (sq x)\n  (* x x))\n(sq 9)\n(car 1)\n(sq 2)\n")
    assert result.stdout == "3\nsq\n81\n4\n"
    assert "type error" in result.stderr and result.returncode == 1


def test_startup_imports_no_heavy_library() -> None:
    code = ("import sys; from pilang.cli import main; main(['-e', '(+ 1 2)']);"
            "heavy = {'torch', 'numpy', 'sentence_transformers', 'faiss', 'sklearn', 'pandas'} & set(sys.modules);"
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("pilang")
    if not script.exists():
        pytest.skip("pilang console script not installed beside this interpreter")
    result = subprocess.run([str(script), "-e", "(* 6 7)"], capture_output=True, text=True, timeout=60)
    assert result.stdout == "42\n"


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery")
def test_ctrl_c_interrupts_a_running_script(tmp_path: Path) -> None:
    script = tmp_path / "forever.pil"
    script.write_text('(print "started")\n(define (spin) (spin))\n(spin)\n')
    # a terminal's Ctrl-C: SIGINT as a shell's foreground job gets it (a background job, e.g. `pytest &`, starts
    # with SIGINT ignored, and Python then never installs its handler)
    proc = subprocess.Popen(PILANG + [str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout.readline() == "started\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 130 and "interrupted" in err
    finally:
        proc.kill()  # never left spinning


def test_bench_quick_runs_and_prints_ratios() -> None:
    result = run("bench", "--quick", "--only", "interpreter", cwd=Path(__file__).parent.parent)
    assert result.returncode == 0, result.stderr
    assert "(fib 15)" in result.stdout and "x" in result.stdout
    assert "MB/s" in result.stdout and "start-up" in result.stdout


def test_common_options_go_before_or_after_a_subcommand(tmp_path: Path) -> None:
    missing = tmp_path / "no-workspace"
    for args in (["--workspace", str(missing), "train", "fno"], ["train", "fno", "--workspace", str(missing)],
                 [f"--workspace={missing}", "--debug", "train", "fno"]):
        result = run(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("pilang train:") and str(missing) in result.stderr, (args, result.stderr)
        assert not missing.exists()  # train never creates a workspace


def test_json_prints_one_document_per_value_in_the_documented_encoding(tmp_path: Path) -> None:
    import json
    result = run("--json", "-e", '{:a 1 :b [1 2.5 nil "x" #t] :c (quote sym) :d :kw}', "-e", "nil", "-e", "(list 1 2)",
                 "-e", '(to-json {:k (list :v)})')
    assert result.returncode == 0, result.stderr
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert docs == [{"a": 1, "b": [1, 2.5, None, "x", True], "c": "sym", "d": "kw"}, None, [1, 2], '{"k":["v"]}']
    script = tmp_path / "s.pil"
    script.write_text('(define x 2)\n(defn f (y) y)\n(print "to stderr")\n(* x 21)\n(table [{:a 1} {:a 2}])\n')
    result = run("--json", str(script))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [42, [{"a": 1}, {"a": 2}]]
    assert "to stderr" in result.stderr  # stdout carries only JSON


def test_json_errors_stay_on_stderr_with_their_caret() -> None:
    result = run("--json", "-e", "(car 5)")
    assert result.returncode == 1 and result.stdout == ""
    assert "type error" in result.stderr and "^" in result.stderr


def test_a_query_result_encodes_as_its_six_keys() -> None:
    from pilang.datum import Keyword, Symbol
    from pilang.result import Result
    from pilang.table import Table
    from pilang.output.tojson import RESULT_KEYS, json_value
    rows = Table([{Keyword("day"): "2025-03-01", Keyword("n"): 3}], ["day", "n"])
    r = Result({Keyword("answer"): "3 messages", Keyword("handler"): Symbol("volume-handler"),
                Keyword("held-out"): {Keyword("mae"): 0.5}, Keyword("evidence"): {Keyword("days"): [1, 2]}}, None, rows)
    assert json_value(r) == {"answer": "3 messages", "handler": "volume-handler", "model": None,
                             "held_out": {"mae": 0.5}, "evidence": {"days": [1, 2]},
                             "rows": [{"day": "2025-03-01", "n": 3}]}
    assert tuple(json_value(r)) == RESULT_KEYS


def test_the_help_lists_every_subcommand_from_the_one_table() -> None:
    from pilang.cli import SUBCOMMANDS, build_parser
    text = build_parser().format_help()
    assert all(f"  pilang {name}" in text for name in SUBCOMMANDS), text
