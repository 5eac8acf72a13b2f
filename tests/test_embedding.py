"""The embedder's runtimes and precisions: OpenVINO fp32 gives sentence-transformers' torch vectors, bf16 stays
within 1e-3 of them (and shares their cache key), int8 is a model of its own (its own key, calibrated on the
workspace's texts, re-embedding on a switch); models are built once, offline, atomically, never at import."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pilang_engine.workspace import inference
from pilang_engine.workspace.embed import MODELS

NAME = "all-MiniLM-L6-v2"
FOLDER = MODELS[NAME][0]()
DIM = MODELS[NAME][1]
ROOT = Path(__file__).resolve().parent.parent

needs_openvino = pytest.mark.skipif(inference.openvino() is None, reason="openvino is not installed")


@pytest.fixture(scope="module")
def real_texts(shared_data) -> list[str]:
    """150 Warframe reviews (long and short, several languages) and 150 Dota 2 chat lines."""
    doc = json.loads((shared_data("steam-reviews-warframe") / "review_230410.json").read_text())
    reviews = [r["review"] for r in doc["reviews"].values() if r["review"].strip()]
    with open(shared_data("dota2-ingame-chat-conda") / "CONDA_valid.csv", newline="", encoding="utf-8") as f:
        chat = [r["utterance"] for r in csv.DictReader(f) if r["utterance"].strip()]
    longest = sorted(reviews, key=len)[-20:]  # truncated at the model's 256 tokens
    return list(dict.fromkeys(longest + reviews[:130] + chat[:150]))


@pytest.fixture(scope="module")
def torch_vectors(real_texts: list[str]) -> np.ndarray:
    return inference.TorchRunner(FOLDER, "fp32", "cpu").encode(real_texts)


def test_tokens_are_the_ids_sentence_transformers_feeds_the_model() -> None:
    from transformers import AutoTokenizer
    texts = ["  Hello World  ", "gg wp", "", "😀 emoji ünïcode", "word " * 400, "ÄÖÜ straße", "日本語のテキスト", "\tnew\nline "]
    hf = AutoTokenizer.from_pretrained(str(FOLDER))
    want = hf([t.strip() for t in texts], truncation=True, max_length=256)["input_ids"]
    assert inference.Tokens(FOLDER).ids(texts) == want
    assert len(inference.Tokens(FOLDER).ids(["word " * 400])[0]) == 256


def test_batches_hold_every_text_once_longest_first_within_the_budget() -> None:
    rng = np.random.default_rng(3)
    lengths = [int(x) for x in rng.integers(1, 257, size=1000)] + [256] * 7 + [3] * 500
    groups = inference.batches(lengths, budget=1024, most=256)
    flat = np.concatenate(groups)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    firsts = [lengths[g[0]] for g in groups]
    assert firsts == sorted(firsts, reverse=True)
    for g in groups:
        width = lengths[g[0]]
        assert all(lengths[i] <= width for i in g)  # padded to its first text
        assert len(g) == 1 or len(g) * width <= 1024
        assert len(g) <= 256


@needs_openvino
def test_openvino_fp32_gives_the_torch_vectors(real_texts: list[str], torch_vectors: np.ndarray) -> None:
    got = inference.runner(NAME, FOLDER, "fp32", "openvino", DIM).encode(real_texts)
    cos = np.sum(got * torch_vectors, axis=1)
    assert cos.min() >= 0.99999, cos.min()
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


@needs_openvino
def test_bf16_vectors_are_interchangeable_with_fp32(real_texts: list[str], torch_vectors: np.ndarray) -> None:
    if not inference.native_bf16():
        pytest.skip("this CPU has no native bf16 (auto runs as fp32 here)")
    got = inference.runner(NAME, FOLDER, "bf16", "openvino", DIM).encode(real_texts)
    cos = np.sum(got * torch_vectors, axis=1)
    assert cos.min() >= 0.999, cos.min()  # measured 0.9999 on 4,500 texts: one cache key for both
    assert cos.mean() < 0.9999999  # it really computed in bf16
    assert inference.vectors_key(NAME, "bf16") == inference.vectors_key(NAME, "fp32") == NAME


def test_auto_is_bf16_only_where_the_cpu_computes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inference, "native_bf16", lambda: False)
    assert inference.resolve("auto", "openvino") == "fp32"
    assert inference.resolve("bf16", "openvino") == "fp32"  # a bf16 workspace opened elsewhere: the same vectors
    monkeypatch.setattr(inference, "native_bf16", lambda: True)
    assert inference.resolve("auto", "openvino") == "bf16"
    assert inference.resolve("fp32", "openvino") == "fp32"
    assert inference.resolve("int8", "openvino") == "int8"
    assert inference.resolve("auto", "cuda") == "fp16"
    with pytest.raises(inference.PrecisionUnavailable, match="unknown precision 'fp8'"):
        inference.resolve("fp8", "openvino")
    assert inference.vectors_key(NAME, "int8", "abc") == f"{NAME}/int8-abc" != inference.vectors_key(NAME, "int8", "abd")


def test_the_runtime_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    from pilang_engine.workspace.embed import embedder
    monkeypatch.setenv(inference.RUNTIME_ENV, "torch")
    assert embedder(NAME, "fp32").describe()["runtime"] == "torch"
    monkeypatch.setenv(inference.RUNTIME_ENV, "tpu")
    with pytest.raises(inference.PrecisionUnavailable, match="expected openvino, torch or cuda"):
        inference.choose_runtime()


@needs_openvino
def test_int8_is_a_model_of_its_own_calibrated_on_the_workspace(demo_copy) -> None:
    pytest.importorskip("nncf")
    from pilang_engine.ingestion.pipeline import switch_model
    from pilang_engine.workspace.search import search
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(demo_copy("int8"))
    distinct = ws.db.execute("SELECT count(*) FROM (SELECT content_hash FROM messages UNION"
                             " SELECT content_hash FROM changes)").fetchone()[0]
    fp32 = dict(ws.db.execute("SELECT hash, vector FROM vectors WHERE model = ?", [NAME]).fetchall())
    assert switch_model(ws, precision="int8") == distinct  # a model switch: everything re-embedded
    key = ws.embed_model
    assert key.startswith(f"{NAME}/int8-") and ws.embed_precision == "int8"
    cal = ws.calibration()
    assert key == f"{NAME}/int8-{cal['id']}"
    owned = {r[0] for r in ws.db.execute("SELECT content_hash FROM messages")}
    assert len(cal["hashes"]) == min(inference.CALIBRATION_TEXTS, len(owned)) and set(cal["hashes"]) <= owned
    int8 = dict(ws.db.execute("SELECT hash, vector FROM vectors WHERE model = ?", [key]).fetchall())
    assert set(int8) == set(fp32)
    cos = np.array([np.frombuffer(int8[h], np.float32) @ np.frombuffer(fp32[h], np.float32) for h in fp32])
    assert 0.97 <= cos.mean() < 0.9999, cos.mean()  # close, and not fp32 under another name
    assert ws.vector_index().meta["model"] == key and ws.stats()["vectors"] == distinct
    assert search(ws, "the new rifle is too strong", k=5)
    assert switch_model(ws, precision="fp32") == 0  # fp32 vectors were kept: switching back embeds nothing
    assert ws.vector_index().meta["model"] == NAME
    assert switch_model(ws, precision="int8") == 0  # the same calibration sample, the same vectors
    assert ws.embed_model == key


def test_int8_needs_texts_to_calibrate_on(tmp_path: Path) -> None:
    from pilang_engine.ingestion.pipeline import switch_model
    from pilang_engine.workspace.store import Workspace
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(inference.TooFewTexts, match=r"calibrated on 64\+ of the workspace's own texts and it has 0"):
        switch_model(ws, precision="int8")
    assert ws.embed_precision == "auto"  # refused: the setting is as it was
    assert switch_model(ws, precision="int8", defer=True) == 0
    assert ws.embed_precision == "int8" and ws.embed_model == f"{NAME}/int8"  # the first ingest calibrates
    with pytest.raises(inference.PrecisionUnavailable, match="unknown precision"):
        switch_model(ws, precision="half")


@needs_openvino
def test_cli_ingest_with_precision_records_it(tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    env = {**os.environ, "PILANG_PROGRESS": "off"}
    ws = tmp_path / "ws"
    run = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(ws), "--json", "ingest", "--precision",
                          "int8", str(ROOT / "examples" / "demo")], capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["embedded"] > 1000
    stats = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(ws), "--json", "-e", "(stats)"],
                           capture_output=True, text=True, env=env, timeout=300)
    got = json.loads(stats.stdout.splitlines()[-1])
    assert got["precision"] == "int8" and got["model"].startswith(f"{NAME}/int8-")
    assert got["runs-as"] == "int8 on openvino" and got["vectors"] > 1000
    bad = subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(ws), "ingest", "--precision", "fp8",
                          str(ROOT / "examples" / "demo")], capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2 and "invalid choice: 'fp8'" in bad.stderr


def test_set_embedding_model_takes_a_precision(demo_copy) -> None:
    from pilang_engine.workspace.store import Workspace

    from pilang.bridge import to_python
    from pilang.session import Session
    path = demo_copy("precision-prim")
    session = Session(workspace=path)
    got = to_python(session.eval_text('(set-embedding-model :precision "fp32")'))
    assert got["precision"] == "fp32" and got["model"] == NAME and got["vectors"] == NAME
    assert got["embedded"] == 0  # fp32 and auto share their vectors: nothing re-embedded
    assert got["runs-as"] in ("fp32 on openvino", "fp32 on torch")
    ws = Workspace(path)
    assert ws.embed_precision == "fp32" and ws.embed_model == NAME


@needs_openvino
def test_a_crash_mid_conversion_leaves_no_half_model(tmp_path: Path) -> None:
    code = ("from pilang_engine.workspace.embed import embedder; import sys;"
            "sys.stdout.write(repr(embedder('all-MiniLM-L6-v2', 'fp32').encode(['a steady hand'])[0][:4].tolist()))")
    env = {**os.environ, "PILANG_CACHE": str(tmp_path / "cache"), "PILANG_PROGRESS": "off",
           inference.RUNTIME_ENV: "openvino"}
    killed = subprocess.run([sys.executable, "-c", code], env={**env, "PILANG_KILL_AT": "model-convert"},
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -9
    root = tmp_path / "cache" / "models" / "openvino"
    assert not [p for p in root.iterdir() if not p.name.startswith(".")]  # nothing under a real name
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in root.iterdir() if not p.name.startswith(".") and (p / "model.xml").exists()]


def test_nothing_is_converted_at_import_or_start_up(tmp_path: Path) -> None:
    env = {**os.environ, "PILANG_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "pilang", "-e", "(+ 1 2)"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip() == "3"
    assert not (tmp_path / "cache").exists()
