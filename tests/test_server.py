"""The team server: tokens and roles, each developer's own environment (kept across restarts), what
code may not do over the wire, limits, the API, and the clients (`pilang --server`, the kernel)
against a real `pilang serve` on 127.0.0.1, with an ingest running while others query."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pilang_engine.workspace import access
from pilang_engine.workspace.store import Workspace

from pilang.server.app import create_app
from pilang.server.developers import Desk, Limits

ROOT = Path(__file__).parent.parent
LIMITS = Limits(seconds=3.0, request_bytes=64 * 1024, output_bytes=4096)


def discord_export(path: Path, n: int, first_id: int, words: str = "the ranked queue") -> Path:
    doc = {"guild": {"id": "9", "name": "g"}, "channel": {"id": "c9", "name": "feedback"},
           "messages": [{"id": str(first_id + i), "type": "Default",
                         "timestamp": f"2025-05-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
                         "content": f"{words} number {i} feels {'slow' if i % 2 else 'fine'}",
                         "author": {"id": f"p{i % 40}", "name": f"player{i % 40}"}} for i in range(n)]}
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def team(demo_copy: Any) -> dict[str, Any]:
    """A demo workspace with three tokens (two analysts, an admin) and a file to ingest inside it."""
    path = demo_copy("server")
    ws = Workspace(path)
    tokens = {"alice": access.add_token(ws, "alice"), "bob": access.add_token(ws, "bob"),
              "root": access.add_token(ws, "root", "admin")}
    ws.close()
    (path / "inbox").mkdir()
    discord_export(path / "inbox" / "more.json", 30, 900_000)
    (path / "inbox" / "helpers.pil").write_text('(define (shout s) (string-upcase s))\n')
    return {"path": path, "tokens": tokens}


@pytest.fixture(scope="module")
def client(team: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(team["path"], LIMITS)) as c:
        yield c


def call(client: TestClient, team: dict[str, Any], who: str, code: str, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/eval", json={"code": code, **extra},
                    headers={"Authorization": f"Bearer {team['tokens'][who]}"})
    assert r.status_code == 200, r.text
    return r.json()


def error_of(out: dict[str, Any]) -> dict[str, Any]:
    assert not out["ok"], out
    return out["error"]


# ---- identity ---------------------------------------------------------------------------------

def test_no_token_a_wrong_token_and_a_revoked_token_are_refused(client: TestClient, team: dict[str, Any]) -> None:
    assert client.get("/v1/health").json()["ok"]  # the one endpoint without a token
    r = client.post("/v1/eval", json={"code": "(+ 1 2)"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "Bearer" in r.json()["detail"]
    r = client.post("/v1/eval", json={"code": "(+ 1 2)"}, headers={"Authorization": "Bearer pil_not-a-token"})
    assert r.status_code == 401 and "not valid" in r.json()["detail"]
    assert "pil_not-a-token" not in r.text
    ws = Workspace(team["path"])
    carol = access.add_token(ws, "carol")
    headers = {"Authorization": f"Bearer {carol}"}
    assert client.post("/v1/eval", json={"code": "(+ 1 2)"}, headers=headers).json()["values"] == [3]
    assert access.revoke(ws, "carol")
    ws.close()
    r = client.post("/v1/eval", json={"code": "(+ 1 2)"}, headers=headers)
    assert r.status_code == 401  # at once, without a restart
    assert client.get("/v1/whoami", headers={"Authorization": f"Bearer {team['tokens']['root']}"}).json() == \
        {"developer": "root", "role": "admin"}


def test_only_a_hash_of_each_token_is_stored(team: dict[str, Any]) -> None:
    ws = Workspace(team["path"])
    stored = " ".join(str(v) for row in ws.db.execute("SELECT * FROM tokens") for v in row)
    ws.close()
    for token in team["tokens"].values():
        assert token not in stored and token.startswith("pil_") and len(token) > 40


def test_the_learner_learns_for_the_tokens_name(client: TestClient, team: dict[str, Any]) -> None:
    call(client, team, "bob", '(search "queue times" :k 2)')
    ws = Workspace(team["path"])
    developers = {r[0] for r in ws.db.execute("SELECT developer FROM interactions WHERE form LIKE '%queue times%'")}
    ws.close()
    assert developers == {"bob"}


# ---- roles ------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ['(ingest "inbox/more.json")', '(sync)', "(train 'gnn)",
                                  "(set-route! 'analytics 'sentiment 'analytics/volume)",
                                  "(install-routes! '((analytics novelty my-handler)))", '(set-embedding-model :precision "fp32")',
                                  "(freeze-learning)", "(unfreeze-learning)", "(undo-learning 1)",
                                  "(personas :refit #t)", '(ingest-images "inbox")'])
def test_an_analyst_calling_an_admin_primitive_is_refused(client: TestClient, team: dict[str, Any], code: str) -> None:
    error = error_of(call(client, team, "alice", code))
    assert error["kind"] == "permission" and "admin" in error["message"] and "alice" in error["message"]


def test_an_admin_ingests_a_file_inside_the_workspace(client: TestClient, team: dict[str, Any]) -> None:
    before = call(client, team, "alice", "(get (stats) :messages)")["values"][0]
    out = call(client, team, "root", '(get (ingest "inbox/more.json") :taken)')
    assert out["ok"], out["error"]
    assert call(client, team, "alice", "(get (stats) :messages)")["values"][0] == before + 30


def test_ratings_route_only_among_the_librarys_handlers(team: dict[str, Any]) -> None:
    desk = Desk(team["path"], "alice", "analyst", LIMITS)  # the session a worker holds, here in the test's process
    try:
        out = desk.evaluate("(define (my-handler q p) 'mine) (define handler-candidates '(((analytics volume) my-handler)))",
                            "<t>")
        assert out["ok"], out["error"]
        candidates = desk.session.learner.candidates()
        assert candidates and all("my-handler" not in hs for hs in candidates.values())
    finally:
        desk.close()


# ---- what code may not do over the wire -------------------------------------------------------

@pytest.mark.parametrize("code", ['(load "/etc/hostname")', '(load "../../outside.pil")',
                                  '(transcribe "/etc/hostname")', '(voice-query "/tmp/question.wav")'])
def test_a_file_outside_the_import_folders_is_not_read(client: TestClient, team: dict[str, Any], code: str) -> None:
    error = error_of(call(client, team, "alice", code))
    assert error["kind"] == "permission" and "outside the workspace's import folders" in error["message"]


def test_even_an_admin_reads_only_from_the_import_folders(client: TestClient, team: dict[str, Any]) -> None:
    error = error_of(call(client, team, "root", f'(ingest "{ROOT / "examples" / "demo"}")'))
    assert error["kind"] == "permission" and "import folders" in error["message"]
    link = team["path"] / "inbox" / "escape"
    link.symlink_to("/etc")
    try:  # a link inside an import folder leads nowhere outside it
        error = error_of(call(client, team, "root", '(ingest "inbox/escape/hostname")'))
        assert error["kind"] == "permission"
    finally:
        link.unlink()


@pytest.mark.parametrize("code", ['(load "workspace.db")', '(load "index.json")', '(transcribe "workspace.db-wal")',
                                  '(load ".")', '(load "inbox/../models")'])
def test_the_workspaces_own_store_is_not_read(client: TestClient, team: dict[str, Any], code: str) -> None:
    error = error_of(call(client, team, "root", code))
    assert error["kind"] == "permission" and ("own store" in error["message"] or "import folders" in error["message"])


def test_a_report_is_written_into_the_developers_output_folder(team: dict[str, Any]) -> None:
    with TestClient(create_app(team["path"], Limits(seconds=300))) as patient:  # a report takes seconds
        out = call(patient, team, "alice", '(get (report :out "weekly.html" :since "all") :report)')
        assert out["ok"], out["error"]
        written = team["path"] / "outputs" / "alice" / "weekly.html"
        assert out["values"] == [str(written)] and written.read_text().startswith("<!")
        headers = {"Authorization": f"Bearer {team['tokens']['alice']}"}
        assert patient.get("/v1/files", headers=headers).json()["outputs"] == [
            {"name": "weekly.html", "bytes": written.stat().st_size}]
        assert patient.get("/v1/files/weekly.html", headers=headers).text.startswith("<!")
        bob = {"Authorization": f"Bearer {team['tokens']['bob']}"}
        assert patient.get("/v1/files/weekly.html", headers=bob).status_code == 404  # alice's, not bob's
        assert patient.get("/v1/files/../alice/weekly.html", headers=bob).status_code == 404


def test_load_inside_the_workspace_works(client: TestClient, team: dict[str, Any]) -> None:
    out = call(client, team, "alice", '(load "inbox/helpers.pil") (shout "gg")')
    assert out["values"] == ["GG"]


@pytest.mark.parametrize("code", ['(eval (string->symbol " env"))', "__builtins__", "(define __class__ 1)",
                                  '((eval (string->symbol " load")) "/etc/hostname" "<x>")',
                                  '(eval (list (string->symbol " Exception")))', "(set! __dict__ 2)"])
def test_python_internals_are_out_of_reach(client: TestClient, team: dict[str, Any], code: str) -> None:
    error = error_of(call(client, team, "alice", code))
    assert error["kind"] == "permission" and "belongs to the implementation" in error["message"]


def test_another_workspace_cannot_be_opened(client: TestClient, team: dict[str, Any]) -> None:
    error = error_of(call(client, team, "root", '(open-workspace "/tmp/elsewhere")'))
    assert error["kind"] == "permission" and "one workspace" in error["message"]


def test_no_primitive_starts_a_process(client: TestClient, team: dict[str, Any]) -> None:
    for name in ("system", "shell", "exec", "popen", "run-process", "bench"):
        error = error_of(call(client, team, "alice", f'({name} "id")'))
        assert error["kind"] == "unbound"


# ---- limits -----------------------------------------------------------------------------------

def test_an_oversized_request_is_refused(client: TestClient, team: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {team['tokens']['alice']}"}
    big = json.dumps({"code": '"' + "x" * (LIMITS.request_bytes + 10) + '"'})
    r = client.post("/v1/eval", content=big, headers={**headers, "content-type": "application/json"})
    assert r.status_code == 413 and "at most" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"code": "'
        for _ in range(40):
            yield b"y" * 4096
        yield b'"}'
    r = client.post("/v1/eval", content=chunks(), headers={**headers, "content-type": "application/json"})
    assert r.status_code == 413


def test_a_never_ending_request_is_interrupted_and_definitions_are_kept(client: TestClient,
                                                                        team: dict[str, Any]) -> None:
    started = time.monotonic()
    out = call(client, team, "bob", "(define before-the-loop 7) (define (spin) (spin)) (spin)")
    took = time.monotonic() - started
    error = error_of(out)
    assert error["kind"] == "timeout" and "3 s" in error["message"]
    assert LIMITS.seconds <= took < LIMITS.seconds + 3
    assert call(client, team, "bob", "(* before-the-loop 6)")["values"] == [42]


def test_output_is_captured_per_request_and_cut_at_its_limit(client: TestClient, team: dict[str, Any]) -> None:
    out = call(client, team, "alice", '(print "for alice") (eprint "careful") 1')
    assert out["stdout"] == "for alice\n" and out["stderr"] == "careful\n"
    assert call(client, team, "bob", "2")["stdout"] == ""
    out = call(client, team, "alice", '(for-each (fn (i) (print "spam spam spam")) (range 2000)) 3')
    assert len(out["stdout"]) == LIMITS.output_bytes and "was cut" in out["stderr"] and out["values"] == [3]


# ---- environments ---------------------------------------------------------------------------

def test_each_developer_has_their_own_global_environment(client: TestClient, team: dict[str, Any]) -> None:
    call(client, team, "alice", "(define team-size 5) (define (alice-only) 'mine)")
    call(client, team, "bob", "(define team-size 9)")
    assert call(client, team, "alice", "team-size")["values"] == [5]
    assert call(client, team, "bob", "team-size")["values"] == [9]
    assert error_of(call(client, team, "bob", "(alice-only)"))["kind"] == "unbound"
    call(client, team, "bob", "(define print 'shadowed)")  # bob's own, nobody else's
    assert call(client, team, "alice", '(print "still printing")')["stdout"] == "still printing\n"


def test_definitions_survive_a_restart_of_the_server(team: dict[str, Any], client: TestClient) -> None:
    call(client, team, "alice", "(define counter 1) (defmacro twice (x) `(begin ,x ,x)) (set! counter 2)"
                                " (define (bump) (set! counter (+ counter 10)) counter)")
    call(client, team, "alice", "(bump)")  # a call is not a definition: not replayed
    with TestClient(create_app(team["path"], LIMITS)) as fresh:
        out = call(fresh, team, "alice", "(list counter (macroexpand-1 '(twice (f))) (bump))")
        assert out["values"] == [[2, ["begin", ["f"], ["f"]], 12]]
        listed = fresh.get("/v1/environment", headers={"Authorization": f"Bearer {team['tokens']['alice']}"}).json()
        assert any("defmacro twice" in d["source"] for d in listed["definitions"])


def test_a_restart_does_not_ingest_or_train_again(team: dict[str, Any], client: TestClient) -> None:
    out = call(client, team, "root", '(define taken (get (ingest "inbox/more.json") :taken)) (define (helper) 1)')
    assert out["ok"], out["error"]
    def last_ingested() -> list[Any]:
        ws = Workspace(team["path"])
        rows = ws.db.execute("SELECT path, last_ingested FROM sources ORDER BY id").fetchall()
        ws.close()
        return rows
    before = last_ingested()
    time.sleep(1.1)  # a second ingest would stamp a later second
    with TestClient(create_app(team["path"], LIMITS)) as fresh:
        out = call(fresh, team, "root", "(helper)")
        assert out["values"] == [1]
        assert "not replayed" in out["stderr"] and "ingest" in out["stderr"]
        assert error_of(call(fresh, team, "root", "taken"))["kind"] == "unbound"
        assert call(fresh, team, "root", "2")["stderr"] == ""  # said once
    assert last_ingested() == before


def test_a_session_idle_past_its_limit_is_closed_and_replayed_when_used_again(team: dict[str, Any]) -> None:
    app = create_app(team["path"], Limits(seconds=3.0, idle_seconds=0.5))
    with TestClient(app) as c:
        call(c, team, "bob", "(define idle-kept 11)")
        first = app.state.pool.workers["bob"]
        time.sleep(1.0)
        assert call(c, team, "alice", "1")["values"] == [1]  # any request sweeps the idle sessions
        assert "bob" not in app.state.pool.workers
        assert call(c, team, "bob", "idle-kept")["values"] == [11]
        assert app.state.pool.workers["bob"] is not first
        first.proc.join(10)
        assert not first.proc.is_alive()  # its process ended


def test_forgetting_the_environment_starts_afresh(client: TestClient, team: dict[str, Any]) -> None:
    call(client, team, "bob", "(define scratch 1)")
    headers = {"Authorization": f"Bearer {team['tokens']['bob']}"}
    assert client.delete("/v1/environment", headers=headers).json()["forgot"] >= 1
    assert error_of(call(client, team, "bob", "scratch"))["kind"] == "unbound"
    with TestClient(create_app(team["path"], LIMITS)) as fresh:
        assert error_of(call(fresh, team, "bob", "scratch"))["kind"] == "unbound"


# ---- the API ----------------------------------------------------------------------------------

def test_an_error_comes_with_kind_message_place_and_caret(client: TestClient, team: dict[str, Any]) -> None:
    out = call(client, team, "alice", "(+ 1 2)\n(define (f x) (car x))\n(f 5)", file="<repl-7>")
    assert out["values"] == [3]  # what came before the error
    error = error_of(out)
    assert (error["kind"], error["file"], error["line"], error["column"]) == ("type", "<repl-7>", 2, 15)
    assert error["caret"] == "  (define (f x) (car x))\n                ^^^^^^^"
    assert error["text"].startswith("<repl-7>:2:15: type error: car needs a non-empty list")
    assert "in f at <repl-7>:2:15" in error["text"]


def test_another_developers_input_of_the_same_name_is_not_quoted(client: TestClient, team: dict[str, Any]) -> None:
    call(client, team, "bob", "(define (g y) (car y))", file="<repl-1>")
    call(client, team, "alice", '"a different first line"', file="<repl-1>")
    error = error_of(call(client, team, "bob", "(g 1)", file="<repl-2>"))
    assert "(define (g y) (car y))" in error["caret"]


def test_the_read_endpoints_and_openapi(client: TestClient, team: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {team['tokens']['alice']}"}
    out = call(client, team, "alice", "(query (type analytics) (target volume))")
    assert out["ok"], out["error"]  # an analyst's first query installs the library's default routes
    rated = client.post("/v1/rate", json={"rating": 4}, headers=headers)
    assert rated.status_code == 200, rated.text
    assert client.get("/v1/stats", headers=headers).json()["messages"] >= 2941
    assert {s["kind"] for s in client.get("/v1/sources", headers=headers).json()} >= {"discord"}
    routing = client.get("/v1/routing", headers=headers).json()
    assert any(r["type"] == "analytics" for r in routing)
    assert isinstance(client.get("/v1/macros", headers=headers).json(), list)
    assert isinstance(client.get("/v1/learning-log?limit=5", headers=headers).json(), list)
    done = client.post("/v1/complete", json={"code": "(string-up"}, headers=headers).json()
    assert [m["text"] for m in done["matches"]] == ["string-upcase"] and done["start"] == 1
    assert client.get("/v1/doc", params={"name": "car"}, headers=headers).json()["found"]
    spec = client.get("/openapi.json").json()
    assert {"/v1/eval", "/v1/rate", "/v1/routing", "/v1/macros", "/v1/learning-log", "/v1/sources", "/v1/stats",
            "/v1/health"} <= set(spec["paths"])


def test_the_token_commands(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run = [sys.executable, "-m", "pilang", "--workspace", str(ws), "token"]
    made = subprocess.run(run + ["add", "dana", "--role", "admin"], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("pil_") and " " not in token
    listed = subprocess.run(run + ["list"], capture_output=True, text=True, timeout=120).stdout
    assert "dana" in listed and "admin" in listed and token not in listed
    assert Workspace(ws).db.execute("SELECT count(*) FROM tokens WHERE hash LIKE ?", [f"%{token}%"]).fetchone()[0] == 0
    assert subprocess.run(run + ["revoke", "dana"], capture_output=True, timeout=120).returncode == 0
    assert subprocess.run(run + ["revoke", "dana"], capture_output=True, timeout=120).returncode == 1
    bad = subprocess.run(run + ["add", "no spaces please"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "token name" in bad.stderr


# ---- a real server, its clients, and writes while others read --------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(demo_copy: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`pilang serve` in its own process on 127.0.0.1."""
    path = demo_copy("served")
    ws = Workspace(path)
    tokens = {name: access.add_token(ws, name, role) for name, role in
              (("ana", "analyst"), ("ben", "analyst"), ("cy", "analyst"), ("dee", "analyst"), ("ops", "admin"))}
    ws.close()
    (path / "inbox").mkdir()
    port = free_port()
    log = tmp_path_factory.mktemp("serve-log") / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "pilang", "serve", "--workspace", str(path), "--port", str(port),
                             "--time-limit", "20"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    from pilang.server.client import wait_for
    if not wait_for(url, 120):
        proc.kill()
        raise AssertionError(log.read_text())
    yield {"url": url, "tokens": tokens, "path": path, "log": log}
    proc.terminate()
    proc.wait(30)
    text = log.read_text()
    for token in tokens.values():
        assert token not in text  # never logged


def pilang(served: dict[str, Any], who: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PILANG_TOKEN": served["tokens"][who]}
    return subprocess.run([sys.executable, "-m", "pilang", "--server", served["url"], *args], input=stdin,
                          capture_output=True, text=True, timeout=180, env=env)


def test_the_cli_runs_expressions_scripts_and_pipes_against_the_server(served: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    assert pilang(served, "ana", "-e", "(define (sq x) (* x x))").returncode == 0
    done = pilang(served, "ana", "-e", "(sq 12)")
    assert (done.returncode, done.stdout) == (0, "144\n")
    script = tmp_path / "report.pil"
    script.write_text('(print "counting") (sq 3) (define y 2) (get (stats) :messages) (car y)\n')
    ran = pilang(served, "ana", "--json", str(script))
    assert ran.returncode == 1
    assert [json.loads(line) for line in ran.stdout.splitlines()] == [9, 2941]  # definitions and nil are not lines
    assert "counting" in ran.stderr  # under --json, what a program prints goes to stderr, as locally
    assert f"{script}:1:64: type error: car needs a non-empty list, got integer" in ran.stderr
    assert "^^^^^^^" in ran.stderr
    local = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(tmp_path / "local"), "-e",
                            "(define (sq x) (* x x))", "-e", '(sq "a")'], capture_output=True, text=True, timeout=120)
    remote = pilang(served, "ana", "-e", '(sq "a")')
    assert remote.returncode == local.returncode == 1
    assert remote.stderr.splitlines()[0] == local.stderr.splitlines()[0]  # the same error, the same words
    piped = pilang(served, "ana", stdin="(sq 5)\n(+ 1\n 2)\n")
    assert piped.stdout == "25\n3\n"
    assert pilang(served, "ben", "-e", "(sq 2)").returncode == 1  # ana's definition, not ben's
    refused = subprocess.run([sys.executable, "-m", "pilang", "--server", served["url"], "-e", "1"],
                             capture_output=True, text=True, timeout=120,
                             env={k: v for k, v in os.environ.items() if k != "PILANG_TOKEN"})
    assert refused.returncode == 1 and "PILANG_TOKEN" in refused.stderr


def test_the_repl_completes_from_the_server(served: dict[str, Any]) -> None:
    from pilang.introspect import completions, documentation
    from pilang.server.client import RemoteSession
    s = RemoteSession(served["url"], served["tokens"]["cy"])
    s.eval_text("(define (my-shortcut) 1)")
    assert ("my-shortcut" in [n for n, _ in completions(s, "(my-sh")])
    assert sorted(n for n, _ in completions(s, "(query (type ")) == ["analytics", "comparison", "persona-inquiry",
                                                                    "prediction"]
    assert documentation(s, "car").startswith("primitive (car")
    s.close()


def test_the_interactive_repl_on_a_server_completes_helps_and_interrupts(served: dict[str, Any],
                                                                        tmp_path: Path) -> None:
    import pexpect
    env = dict(os.environ, PILANG_HISTORY=str(tmp_path / "history"), TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1",
               PILANG_TOKEN=served["tokens"]["ben"])
    child = pexpect.spawn(sys.executable, ["-m", "pilang", "--server", served["url"]], env=env, encoding="utf-8",
                          timeout=60, dimensions=(40, 160))
    child.expect("connected to .* as ben \\(analyst\\)")
    child.expect("pilang>")
    child.send("(define ben-zebra-count 3)\r")
    child.expect("ben-zebra-count\r\n")  # the value, after the echoed input
    child.expect("pilang>")
    child.send("(+ 1 ben-zebr\t")  # completed from the server's environment for ben
    child.expect("a-count")  # the completion arrived (over HTTP) and was inserted
    child.send(")\r")
    child.expect(r"\D4\r\n")
    child.send(",help car\r")
    child.expect("First element of a non-empty list")
    child.send("(car 7)\r")
    child.expect("type error: car needs a non-empty list")
    child.send("(define (spin) (spin)) (spin)\r")
    time.sleep(1.5)
    started = time.monotonic()
    child.sendintr()  # Ctrl-C interrupts the evaluation on the server, not the REPL
    child.expect("interrupted")
    assert time.monotonic() - started < 5
    child.send("(* ben-zebra-count 14)\r")
    child.expect(r"\D42\r\n")
    child.send(",quit\r")
    child.expect(pexpect.EOF)


def test_a_kernel_installed_for_a_server_evaluates_there(served: dict[str, Any], tmp_path: Path) -> None:
    from jupyter_client.manager import start_new_kernel
    done = subprocess.run([sys.executable, "-m", "pilang", "kernel", "install", "--prefix", str(tmp_path),
                           "--server", served["url"]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (spec,) = (tmp_path / "share" / "jupyter" / "kernels").iterdir()
    assert spec.name.startswith("pilang-127-0-0-1")
    kernel_json = json.loads((spec / "kernel.json").read_text())
    assert kernel_json["env"] == {"PILANG_SERVER": served["url"]}
    assert "pil_" not in (spec / "kernel.json").read_text()
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(tmp_path / "share" / "jupyter")
    try:
        km, kc = start_new_kernel(kernel_name=spec.name, env={**os.environ, "PILANG_TOKEN": served["tokens"]["dee"]})
    finally:
        if old is None:
            del os.environ["JUPYTER_PATH"]
        else:
            os.environ["JUPYTER_PATH"] = old
    try:
        outputs: list[dict[str, Any]] = []
        kc.execute_interactive('(print "from the server") (stats)', timeout=120, output_hook=outputs.append)
        streams = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
        assert "from the server" in streams, [(m["msg_type"], m["content"]) for m in outputs]
        (result,) = [m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"]
        assert "<table" in result["text/html"] and ">2,941<" in result["text/html"]  # a count reads with its separator
        outputs.clear()
        kc.execute_interactive("(define (f x) (car x))\n(f 1)", timeout=120, output_hook=outputs.append)
        (error,) = [m["content"] for m in outputs if m["msg_type"] == "error"]
        assert error["ename"] == "type error" and error["traceback"][1] == "  (define (f x) (car x))"
        outputs.clear()
        kc.execute_interactive('(show (plot [1 3 2] :title "sessions"))', timeout=120, output_hook=outputs.append)
        assert any("image/png" in m["content"].get("data", {}) for m in outputs if m["msg_type"] == "display_data")
        reply = kc.complete("(string-up", 10, reply=True, timeout=60)
        assert reply["content"]["matches"] == ["string-upcase"]
        msg_id = kc.execute("(define (spin) (spin)) (spin)")  # interrupting the kernel interrupts the server
        time.sleep(1.5)
        started = time.monotonic()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=20)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=20)
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "interrupted"
        assert time.monotonic() - started < 5
        outputs.clear()
        kc.execute_interactive("(+ 40 2)", timeout=60, output_hook=outputs.append)
        assert [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"] == ["42"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_an_ingest_while_others_query_never_fails_a_query_or_shows_half_a_batch(served: dict[str, Any]) -> None:
    from pilang_engine.ingestion.pipeline import BATCH

    from pilang.server.client import RemoteSession
    n = 2 * BATCH + BATCH // 2  # three batches: two whole, one half
    discord_export(served["path"] / "inbox" / "wave.json", n, 5_000_000, "the new season")
    base = RemoteSession(served["url"], served["tokens"]["ana"]).eval_text("(get (stats) :messages)").doc["json"]
    allowed = {base, base + BATCH, base + 2 * BATCH, base + n}
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader(who: str) -> None:
        s = RemoteSession(served["url"], served["tokens"][who])
        while not stop.is_set():
            try:
                out = s.evaluate('(list (get (stats) :messages) (length (search "season queue" :k 3)))', "<poll>")
                seen.append(out["values"][0][0])
            except Exception as exc:  # any failure is the test's failure
                errors.append(f"{who}: {exc}")
        s.close()
    readers = [threading.Thread(target=reader, args=(w,)) for w in ("ana", "ben", "cy", "dee")]
    for t in readers:
        t.start()
    try:
        admin = RemoteSession(served["url"], served["tokens"]["ops"])
        out = admin.evaluate('(get (ingest "inbox/wave.json") :taken)', "<ingest>")
        assert out["ok"]
        time.sleep(1.0)
    finally:
        stop.set()
        for t in readers:
            t.join(120)
    assert not errors, errors[:3]
    assert len(seen) > 20
    assert set(seen) <= allowed, sorted(set(seen) - allowed)[:5]
    assert max(seen) == base + n  # every row arrived, none lost


def test_a_question_in_plain_words_is_translated_and_run_in_the_developers_session(client: TestClient,
                                                                                    team: dict[str, Any]) -> None:
    """POST /v1/ask: the same translator as `pilang ask`; with run, the query's evaluation under it."""
    auth = {"Authorization": f"Bearer {team['tokens']['alice']}"}
    r = client.post("/v1/ask", json={"question": "how many messages last week in #help", "run": False}, headers=auth)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["query"] == ("(query (type analytics) (target volume) (parameters (context last-week) (filters"
                            " (channel help))))") and "answer" not in doc and doc["confidence"] > 0
    r = client.post("/v1/ask", json={"question": "how many messages last week in #help"}, headers=auth)
    assert r.status_code == 200 and r.json()["answer"]["ok"], r.text
    r = client.post("/v1/ask", json={"question": "tell me a joke", "run": True}, headers=auth)
    assert r.status_code == 200 and r.json()["query"] is None and r.json()["alternatives"]


def test_the_collector_stores_events_and_crashes_once_and_opens_nothing_else(team: dict[str, Any]) -> None:
    """POST /v1/events with a collector token: JSON lines or msgpack, acknowledged (202) once stored, a batch
    sent again stored no second time; the token opens nothing else, and an analyst's posts no events; past
    its rate, 429 with Retry-After. The crash reports then answer (query (type analytics) (target crashes))."""
    import msgpack
    ws = Workspace(team["path"])
    game = access.add_token(ws, "game-client", "collector")
    ws.close()
    limits = Limits(seconds=20.0, events_per_second=2.0)
    with TestClient(create_app(team["path"], limits)) as c:
        auth = {"Authorization": f"Bearer {game}"}
        lines = "\n".join(json.dumps(x) for x in [
            {"id": "e1", "player": "p1", "time": "2025-04-22T10:00:00Z", "event": "session_start", "value": 1},
            {"id": "e2", "player": "p1", "time": "2025-04-22T10:30:00Z", "event": "session_end", "value": 30},
            {"id": "c1", "stack_hash": "abc123", "build": "1.2.1", "platform": "pc", "time": "2025-04-22T10:05:00Z",
             "message": "crash on login: null pointer in the tutorial loader", "player": "p1"},
            {"oops": True}])
        r = c.post("/v1/events", content=lines, headers={**auth, "Content-Type": "application/x-ndjson"})
        assert r.status_code == 202, r.text
        assert r.json()["events"] == 2 and r.json()["crashes"] == 1 and sum(r.json()["refused"].values()) == 1
        packed = msgpack.packb([{"id": "c2", "stack_hash": "abc123", "build": "1.2.1", "platform": "ps5",
                                 "time": "2025-04-22T11:00:00Z", "message": "crash on login"},
                                {"id": "e1", "player": "p1", "time": "2025-04-22T10:00:00Z", "event": "session_start"}])
        r = c.post("/v1/events", content=packed, headers={**auth, "Content-Type": "application/msgpack"})
        assert r.status_code == 202 and r.json()["crashes"] == 1 and r.json()["duplicates"] == 1, r.text
        r = c.post("/v1/events", content="not json", headers=auth)
        assert r.status_code in (400, 429)
        codes = [c.post("/v1/events", content=lines, headers=auth) for _ in range(12)]  # past 2 a second (burst 4)
        refused = next(r for r in codes if r.status_code != 202)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert c.post("/v1/eval", json={"code": "(+ 1 2)"}, headers=auth).status_code == 403
        analyst = {"Authorization": f"Bearer {team['tokens']['alice']}"}
        assert c.post("/v1/events", content=lines, headers=analyst).status_code == 403
        out = c.post("/v1/eval", json={"code": "(query (type analytics) (target crashes) (parameters (context all)))"},
                     headers=analyst).json()
        assert out["ok"], out["error"]
        answer = out["values"][-1]
        assert "crash on login" in answer["answer"] and "1.2.1" in answer["answer"], answer["answer"]
    ws = Workspace(team["path"])
    assert ws.count("crashes") == 2 and ws.db.execute("SELECT count(*) FROM telemetry WHERE source = 'collector'").fetchone()[0] == 2
