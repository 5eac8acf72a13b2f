"""The packaged sentiment model: scored where it never trained, beside its baselines; no leak between its
training rows and the rows it is scored on; a workspace's own labels used out of fold only; no score where
there is nothing to read (no vector, a language no scored model covers); game language; export."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.analytics import gametext
from pilang_engine.analytics import sentiment as S
from pilang_engine.analytics import sentiment_training as T
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace


def _key(text: str) -> str:
    return " ".join(text.lower().split())


# ---- the packaged model and its card ------------------------------------------------------------------------------

def test_the_packaged_model_ships_with_its_card_and_held_out_figures() -> None:
    model = S.packaged()
    held = model.card["held_out"]
    for key in S.HELD_OUT_KEY.values():
        assert key in held, key
        for system in ("packaged", "vader", "tfidf_lr", "anchors"):
            assert 0.0 <= held[key][system]["balanced_accuracy"] <= 1.0
    assert model.card["labels"] == ["negative", "neutral", "positive"]
    assert set(model.card["data"]) >= {"steam-reviews-multigame", "dota2-chat-attitude", "steam-review-aspect-ccby"}
    # the wheel carries small files: the model is weights, not data
    assert (S.MODELS / "sentiment.npz").stat().st_size < 8 * 2 ** 20


def test_probabilities_are_three_and_sum_to_one() -> None:
    out = S.sentiment_of(["I love this game", "the servers keep crashing, refund", "when does the event start?"])
    for r in out:
        p = r["probabilities"]
        assert set(p) == {"negative", "neutral", "positive"} and abs(sum(p.values()) - 1) < 1e-3
        assert r["label"] == max(p, key=p.get) and -1 <= r["score"] <= 1
    assert [r["label"] for r in out[:2]] == ["positive", "negative"]


def test_the_neutral_class_is_learned_not_a_band() -> None:
    """Plain chat and statements read as neutral by the model's own class (its probability leads), not by a
    score that happens to sit near zero; and on held-out chat the three-class reading beats every baseline."""
    out = S.sentiment_of(["brb", "ok", "patch notes are up", "going mid"])
    assert sum(r["label"] == "neutral" and r["probabilities"]["neutral"] > 0.5 for r in out) >= 3
    chat = S.packaged().card["held_out"]["chat, unseen matches"]
    assert chat["packaged"]["macro_f1_3"] > max(chat[b]["macro_f1_3"] for b in ("vader", "tfidf_lr", "anchors"))


# ---- scored where it never trained, beside its baselines (the same rows, this run) --------------------------------

@pytest.fixture(scope="module")
def held_out_sample(shared_data: Any) -> dict[str, list[dict[str, Any]]]:
    for name in ("steam-reviews-multigame", "dota2-chat-attitude"):
        shared_data(name)
    rng = np.random.default_rng(0)
    games = [r for r in T.held_out_games(per_game_positive=60) if r["language"] == "en"]
    neg, pos = [r for r in games if r["label"] == 0], [r for r in games if r["label"] == 2]
    pick = lambda rows, n: [rows[i] for i in rng.choice(len(rows), min(n, len(rows)), replace=False)]  # noqa: E731
    chat = [r for r in T.chat({"test"}) if r["label"] != 1]
    return {"reviews": pick(neg, 200) + pick(pos, 200), "chat": chat}


def _proba(rows: list[dict[str, Any]]) -> np.ndarray:
    from pilang_engine.workspace.embed import embedder
    texts = [r["text"] for r in rows]
    return S.packaged().proba(texts, embedder(S.EMBEDDER).encode(texts), [r["language"] for r in rows])


def test_reviews_of_unseen_games_are_read_well_and_better_than_vader(held_out_sample: dict) -> None:
    rows = held_out_sample["reviews"]
    y, P = np.array([r["label"] for r in rows]), _proba(rows)
    ours = T.binary_scores(y, P[:, 0], P[:, 2])
    vader = T.Baselines.vader([r["text"] for r in rows])
    theirs = T.binary_scores(y, vader[:, 0], vader[:, 2])
    assert ours["balanced_accuracy"] >= 0.80, ours
    assert ours["balanced_accuracy"] > theirs["balanced_accuracy"], (ours, theirs)


def test_chat_of_unseen_matches_is_read_better_than_vader(held_out_sample: dict) -> None:
    rows = held_out_sample["chat"]
    y, P = np.array([r["label"] for r in rows]), _proba(rows)
    ours = T.binary_scores(y, P[:, 0], P[:, 2])
    vader = T.Baselines.vader([r["text"] for r in rows])
    assert ours["balanced_accuracy"] > T.binary_scores(y, vader[:, 0], vader[:, 2])["balanced_accuracy"]
    assert ours["balanced_accuracy"] >= 0.70, ours


def test_game_language_reads_right() -> None:
    rows = T.slang_set()
    y, P = np.array([r["label"] for r in rows]), _proba(rows)
    assert T.binary_scores(y, P[:, 0], P[:, 2])["balanced_accuracy"] >= 0.85
    said = {r["text"]: r for r in S.sentiment_of(["this game is cancer, 10/10", "W update", "L patch", "gg ez",
                                                  "UNPLAYABLE", "POGGERS new map"])}
    assert said["this game is cancer, 10/10"]["label"] == "positive" and said["UNPLAYABLE"]["label"] == "negative"
    # two-word verdicts lean the right way; the model is often unsure enough to call them neutral (the card says so)
    assert said["W update"]["score"] > 0 > said["L patch"]["score"]


def test_factual_text_is_measured_for_neutral() -> None:
    """Patch-note lines (never trained on) are scored for how much of them reads as neutral, beside the
    baselines: the card carries the figure a user needs to read a neutral share."""
    held = S.packaged().card["held_out"][T.FACTUAL]
    assert set(held) == {"packaged", "vader", "tfidf_lr", "anchors"}
    assert all(0 <= v["neutral_share"] <= 1 and v["n"] > 1000 for v in held.values())


def test_markers_name_slang_ratings_and_shouting() -> None:
    assert "__rating_high" in gametext.markers("cancer, 10/10") and "__rating_low" in gametext.markers("2/10")
    assert "__praise" in gametext.markers("W update") and "__praise" not in gametext.markers("w update")
    assert "__insult" in gametext.markers("L patch") and "__shouting" in gametext.markers("THIS IS BROKEN")
    assert gametext.normalise("sooooo goooood!!!!!") == "soo good!!"


# ---- no leak: nothing the model is scored on was trained on -------------------------------------------------------

def test_no_held_out_text_or_game_is_in_the_training_rows(shared_data: Any) -> None:
    for name in ("steam-reviews-multigame", "dota2-chat-attitude", "steam-review-aspect-ccby", "patch-notes-warframe",
                 "dota2-patch-notes", "support-complaints-twitter"):
        shared_data(name)
    pool, reviews, chat_train, tickets = T.training_rows()
    tests = T.test_sets()
    assert not {r["group"] for r in reviews} & set(T.GAMES)  # no review of a held-out game
    assert not {r["group"].removeprefix("aspect:") for r in reviews if r["group"].startswith("aspect:")} & set(T.GAMES)
    assert not {r["group"] for r in chat_train} & {r["group"] for r in tests["chat, unseen matches"]}  # by match
    tickets_test = tests["tickets (complaint tweets to support accounts)"]
    assert not {r["group"] for r in tickets} & {r["group"] for r in tickets_test}  # by sector
    trained = {_key(r["text"]) for r in reviews + chat_train + tickets if len(r["text"]) > 30}
    for name, rows in tests.items():
        shared = {_key(r["text"]) for r in rows if len(r["text"]) > 30} & trained
        # SOURCE.md: the pool and the 12 games share one review text over 30 characters
        assert len(shared) <= 1, (name, sorted(shared)[:3])


# ---- a workspace's own labels: out of fold, and only where they beat the packaged model ---------------------------

@pytest.fixture(scope="module")
def warframe(shared_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("warframe") / "ws")
    ingest(ws, [shared_data("steam-reviews-warframe")], progress=False)
    return ws


def test_labelled_reviews_are_scored_out_of_fold_never_in_sample(warframe: Workspace) -> None:
    model = S.model_for(warframe)
    s = model.score_
    assert s is not None and s["n_test"] >= S.MIN_REVIEWS and s["chosen"] in ("adapted", "packaged")
    assert s["value"] == max(s["adapted"], s["packaged"])
    ids = model.held_out_["ids"][:300]
    P = model.proba(ids)
    if model.adapted_ is None:  # the packaged model won: its scores are the workspace's
        base, _ = S.packaged_proba(warframe, ids)
        assert np.allclose(P, base, equal_nan=True)
        return
    p_pos = P[:, 2] / (P[:, 0] + P[:, 2])
    assert np.allclose(p_pos, [model.oof_[i] for i in ids], atol=1e-6)  # the fold's prediction, not the refit's
    refit = model.adapted_.predict_proba(model._stack(S.message_vectors(warframe, ids), S.packaged_proba(
        warframe, ids)[0]))[:, 1]
    assert not np.allclose(p_pos, refit, atol=1e-3)  # an in-sample refit would differ


def test_an_answer_says_which_model_scored_it_and_how_well_on_that_kind_of_source(warframe: Workspace) -> None:
    from pilang_engine.analytics import reports
    out = reports.sentiment(warframe, {})
    about = out["evidence"]["sentiment_model"]
    assert "packaged game-text model" in out["model"] and "held-out" in out["model"]
    assert about["quality"]["reviews"]["balanced_accuracy"] > 0.5
    model = S.model_for(warframe)
    assert model.describe(["reddit"])["quality"]["reddit"] == "not scored on this kind of source"
    assert isinstance(model.describe(["discord"])["quality"]["chat"], dict)


# ---- no score where there is nothing to read ----------------------------------------------------------------------

def _chat_file(tmp_path: Path, lines: list[str]) -> Path:
    """A DiscordChatExporter file of these messages, one a day from 2025-03-01, three players."""
    path = tmp_path / "chat.json"
    path.write_text(json.dumps({"guild": {"id": "1", "name": "g"}, "channel": {"id": "2", "name": "general"},
                                "messages": [{"id": str(100 + i), "type": "Default", "content": t,
                                              "timestamp": f"2025-03-{1 + i:02d}T10:00:00+00:00",
                                              "author": {"id": str(7 + i % 3), "name": f"p{i % 3}"}}
                                             for i, t in enumerate(lines)]}))
    return path


UNSCORED_LANGUAGE = {"fi": "Tämä peli on aivan mahtava ja pelaan sitä joka ikinen päivä ystävieni kanssa",
                     "hu": "Ez a játék teljesen fantasztikus, minden nap játszom vele a barátaimmal",
                     "vi": "Trò chơi này thật tuyệt vời và tôi chơi nó mỗi ngày với bạn bè của tôi",
                     "id": "Permainan ini sangat luar biasa dan saya memainkannya setiap hari dengan teman"}


def test_a_language_without_a_scored_model_gets_no_score_and_is_counted(tmp_path: Path) -> None:
    covered = set(S.packaged().languages())
    lang, text = next((k, v) for k, v in UNSCORED_LANGUAGE.items() if k not in covered)
    [r] = S.sentiment_of([text])
    assert r["language"] == lang and r["score"] is None and r["label"] is None
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [_chat_file(tmp_path, ["I love the new map so much", "servers are down again, awful", text])],
           progress=False)
    from pilang_engine.analytics import reports
    out = reports.sentiment(ws, {})
    assert out["evidence"]["unscored"] == 1 and "1 with no score" in out["answer"]


def test_a_message_without_a_vector_gets_no_score(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [_chat_file(tmp_path, ["I love the new map", "awful servers"])], progress=False, embed=False)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM messages ORDER BY id")]
    assert np.isnan(S.model_for(ws).scores(ids)).all()  # not the score of a zero vector


def test_ingest_scores_what_it_stores(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    report = ingest(ws, [_chat_file(tmp_path, ["I love the new map", "awful servers", "gg"])], progress=False)
    assert report.scored == 3 and "sentiment" in report.stage_seconds
    assert ws.count("sentiment") == 3
    again = ingest(ws, [_chat_file(tmp_path, ["I love the new map", "awful servers", "gg"])], progress=False)
    assert again.scored == 0  # nothing scored twice


# ---- export and the language's primitive --------------------------------------------------------------------------

def test_export_messages_writes_every_column_as_csv_and_jsonl(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ingest(Workspace(ws), [_chat_file(tmp_path, ["I love the new map", "awful servers", "gg", "when is the event"])],
           progress=False)
    out = tmp_path / "m.csv"
    run = lambda *a: subprocess.run([sys.executable, "-m", "pilang", "--workspace", str(ws), "export", "messages",  # noqa: E731
                                     *a], capture_output=True, text=True, timeout=600)
    done = run("--out", str(out), "--no-topics")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(out.open()))
    from pilang_engine.analytics.export import COLUMNS
    assert list(rows[0]) == COLUMNS and len(rows) == 4
    assert {r["sentiment_label"] for r in rows} <= {"negative", "neutral", "positive"}
    assert rows[0]["sentiment_label"] == "positive" and rows[1]["sentiment_label"] == "negative"
    lines = run("--format", "jsonl", "--since", "2025-03-02", "--no-topics")
    assert lines.returncode == 0, lines.stderr
    got = [json.loads(x) for x in lines.stdout.splitlines()]
    assert len(got) == 3 and all(g["time"] >= "2025-03-02" for g in got)
    assert abs(got[0]["p_negative"] + got[0]["p_neutral"] + got[0]["p_positive"] - 1) < 1e-3


def test_export_in_process_streams_jsonl(tmp_path: Path) -> None:
    from pilang_engine.analytics.export import export_messages
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [_chat_file(tmp_path, ["great", "bad"])], progress=False)
    buf = io.StringIO()
    done = export_messages(ws, buf, "jsonl", topics=False)
    assert done["messages"] == 2 and len(buf.getvalue().splitlines()) == 2


def test_sentiment_of_in_pilang() -> None:
    from pilang.datum import Keyword
    from pilang.session import Session
    s = Session()
    one = s.eval_text('(sentiment-of "I love this game")')
    assert one[Keyword("label")] == "positive" and one[Keyword("score")] > 0
    two = s.eval_text('(sentiment-of "great" "this is trash")')
    assert [m[Keyword("label")] for m in two] == ["positive", "negative"]
    assert s.eval_text('(get (get (sentiment-of "ok") :probabilities) :neutral)') >= 0


# ---- toxicity: a score of its own -----------------------------------------------------------------------------------

def test_toxicity_is_its_own_score_with_held_out_figures_beside_baselines() -> None:
    from pilang_engine.analytics.toxicity import packaged_toxicity
    card = packaged_toxicity().card
    for name, held in card["held_out"].items():
        assert set(held) == {"packaged", "tfidf_lr", "vader_negativity"}, name
        assert all(0 <= v["roc_auc"] <= 1 and 0 <= v["brier"] <= 1 for v in held.values())
    # on unseen matches of the chat it trained on, it beats both baselines
    conda = card["held_out"]["CONDA, unseen matches"]
    assert conda["packaged"]["roc_auc"] > max(conda["tfidf_lr"]["roc_auc"], conda["vader_negativity"]["roc_auc"])
    said = {r["text"]: r for r in S.sentiment_of(["you are a useless idiot, uninstall", "this patch ruined ranked",
                                                  "gg wp everyone", "Das Spiel ist großartig und macht Spaß"])}
    assert said["you are a useless idiot, uninstall"]["toxicity"] > 0.5 > said["gg wp everyone"]["toxicity"]
    # negative is not toxic: a complaint about the game reads negative and less toxic than an insult
    assert said["this patch ruined ranked"]["label"] == "negative"
    assert said["this patch ruined ranked"]["toxicity"] < said["you are a useless idiot, uninstall"]["toxicity"]
    assert said["Das Spiel ist großartig und macht Spaß"]["toxicity"] is None  # English only


def test_export_carries_toxicity(tmp_path: Path) -> None:
    from pilang_engine.analytics.export import export_messages
    ws = Workspace(tmp_path / "ws")
    ingest(ws, [_chat_file(tmp_path, ["you are trash, kys noob", "thanks for the carry"])], progress=False)
    buf = io.StringIO()
    export_messages(ws, buf, "jsonl", topics=False)
    rows = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert rows[0]["toxicity"] > rows[1]["toxicity"]
