"""What a user installs: the built wheel, run from a fresh venv with the source tree not on sys.path.

The venv sees this test environment's third-party packages through a .pth line (installing torch and
its company again would take minutes); pilang itself comes only from the wheel: the editable install's
finder is not loaded there (a .pth inside an added path is not processed), and every command runs from
a folder outside the checkout, so a module the wheel forgot fails here as it would for a user."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
QUERIES = {
    "analytics": "(query (type analytics) (target volume))",
    "persona-inquiry": '(query (type persona-inquiry) (target {persona}) (parameters (question "What do you think of ranked?")))',
    "prediction": "(query (type prediction) (target player-churn) (parameters (change nerf-weapon-damage)))",
    "comparison": "(query (type comparison) (target {persona}) (parameters (versus {other})))",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # built from a clean copy: a stale build/ in the checkout could smuggle deleted modules into the wheel
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                                             "__pycache__", ".pilang", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                   check=True, cwd=out, capture_output=True, text=True)
    (found,) = out.glob("pilang-*.whl")
    return found


@pytest.fixture(scope="module")
def user(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A fresh venv with the wheel installed, and a folder outside the checkout to work in."""
    home = tmp_path_factory.mktemp("user")
    env_dir = home / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--force-reinstall", str(wheel)], check=True, capture_output=True, text=True)
    work = home / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PILANG_WORKSPACE", "VIRTUAL_ENV")}
    env["PILANG_HISTORY"] = str(home / "history")
    return {"python": python, "pilang": env_dir / "bin" / "pilang", "cwd": work, "env": env, "prefix": env_dir}


def run(user: dict[str, Any], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(user["pilang"]), *args], cwd=user["cwd"], env=user["env"], capture_output=True,
                          text=True, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"pilang {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def test_the_wheel_carries_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for top, installed in (("pilang", "pilang"), ("engine", "pilang_engine"), ("kernels", "pilang_kernel")):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".py", ".png") and "__pycache__" not in path.parts:
                assert f"{installed}/{path.relative_to(ROOT / top).as_posix()}" in names, path
    for data in ("pilang/_data/grammar/pilang.lark", "pilang/_data/stdlib/prelude.pil", "pilang/_data/stdlib/query.pil"):
        assert data in names
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"pilang", "pilang_engine", "pilang_kernel"}  # nothing generic (engine, benchmarks, tests)


def test_no_generic_top_level_names(user: dict[str, Any]) -> None:
    probe = ("import importlib.util, sys; "
             "print(sorted(n for n in ('engine', 'benchmarks', 'kernels', 'tests') if importlib.util.find_spec(n)));"
             "import pilang, pilang_engine; print(pilang.__file__); print(pilang_engine.__file__)")
    out = subprocess.run([str(user["python"]), "-c", probe], cwd=user["cwd"], env=user["env"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert all(str(user["prefix"]) in line for line in out[1:]), out  # from the wheel, not the checkout
    bench = run(user, "bench", check=False)
    assert bench.returncode == 2 and "source checkout" in bench.stderr


def test_demo_ingest_and_every_query_type_from_the_wheel(user: dict[str, Any]) -> None:
    run(user, "demo", "--make", "demo")
    run(user, "--workspace", "ws", "ingest", "demo")  # the global option before the subcommand
    names = json.loads(run(user, "--json", "--workspace", "ws", "-e", "(persona-names :fit #t)").stdout)
    assert len(names) >= 2
    for kind, text in QUERIES.items():
        done = run(user, "--workspace", "ws", "--json", "-e", text.format(persona=names[0], other=names[1]))
        lines = done.stdout.splitlines()
        assert len(lines) == 1, (kind, done.stdout)
        result = json.loads(lines[0])
        assert {"answer", "handler", "model", "held_out", "evidence"} <= set(result), kind
        assert result["answer"] and result["handler"], (kind, result)


def test_the_kernel_from_the_wheel_answers_kernel_info(user: dict[str, Any]) -> None:
    run(user, "kernel", "install", "--sys-prefix")
    script = (
        "from jupyter_client.manager import start_new_kernel\n"
        "km, kc = start_new_kernel(kernel_name='pilang', startup_timeout=120)\n"
        "try:\n"
        "    kc.kernel_info(); reply = kc.get_shell_msg(timeout=60)\n"
        "    print(reply['content']['language_info']['name'], reply['content']['implementation'])\n"
        "finally:\n"
        "    kc.stop_channels(); km.shutdown_kernel(now=True)\n")
    env = {**user["env"], "JUPYTER_PATH": str(user["prefix"] / "share" / "jupyter"),
           "JUPYTER_DATA_DIR": str(user["cwd"] / "jupyter-data")}
    out = subprocess.run([str(user["python"]), "-c", script], cwd=user["cwd"], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["pilang", "pilang"]
    spec = json.loads((user["prefix"] / "share" / "jupyter" / "kernels" / "pilang" / "kernel.json").read_text())
    assert spec["argv"][0] == str(user["python"]) or Path(spec["argv"][0]).resolve() == user["python"].resolve()
    assert shutil.which("pilang", path=str(user["prefix"] / "bin"))


def test_the_team_server_from_the_wheel(user: dict[str, Any]) -> None:
    import socket
    import time
    run(user, "--workspace", "team-ws", "ingest", str(ROOT / "tests" / "data" / "discord_sample.json"))
    token = run(user, "--workspace", "team-ws", "token", "add", "wren").stdout.strip().splitlines()[-1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(user["pilang"]), "serve", "--workspace", "team-ws", "--port", str(port)],
                              cwd=user["cwd"], env=user["env"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        env = {**user["env"], "PILANG_TOKEN": token}
        for _ in range(240):
            done = subprocess.run([str(user["pilang"]), "--server", f"http://127.0.0.1:{port}", "-e",
                                   "(get (stats) :messages)"], cwd=user["cwd"], env=env, capture_output=True,
                                  text=True, timeout=120)
            if done.returncode == 0 or "cannot reach" not in done.stderr:
                break
            time.sleep(0.25)
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) > 0
    finally:
        server.terminate()
        server.wait(30)
