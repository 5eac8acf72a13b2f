"""Format parsers on the real shared files, the Discord sample, and bad input of every kind."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from pilang_engine.ingestion import formats as F
from pilang_engine.workspace.store import Workspace

DATA = Path(__file__).parent / "data"


def parse(path: Path, fmt: str | None = None) -> tuple[Counter[str], Counter[str], list[F.Record]]:
    form = F.get(fmt) if fmt else F.detect(path)
    records = list(form.parse(path))
    kinds = Counter(type(r).__name__ for r in records)
    skips = Counter(r.reason for r in records if isinstance(r, F.Skip))
    return kinds, skips, records


@pytest.mark.parametrize("dataset, file, fmt, expected", [
    ("steam-reviews-warframe", "review_230410.json", "steam-reviews", {"Message": 4247, "Skip": 17}),
    ("patch-notes-warframe", "patchlogs.json", "warframe-patchnotes", {"Change": 903}),
    ("dota2-ingame-chat-conda", "CONDA_train.csv", "dota-chat", {"Message": 26914, "Skip": 7}),
    ("dota2-ingame-chat-conda", "CONDA_test.csv", "dota-chat", None),
    ("reddit-cyberpunkgame-posts", "Posts.csv", "forum-posts", {"Message": 1100}),
    ("bug-tickets-gitbugs", "SeaMonkey_bugs.csv", "tickets", {"Message": 1076}),
    ("bug-tickets-gitbugs", "hadoop_bugs.csv", "tickets", {"Message": 2503}),
    ("cookie-cats-ab-retention", "cookie_cats.csv", "player-table", {"PlayerFacts": 90189}),
    ("dota2-patch-notes", "patchnotes/7.38.json", "dota2-patchnotes", {"Change": 1}),
])
def test_real_files_are_detected_and_parsed(shared_data, dataset: str, file: str, fmt: str, expected: dict | None) -> None:
    path = shared_data(dataset) / file
    assert F.detect(path).name == fmt
    kinds, skips, records = parse(path)
    if expected:
        assert dict(kinds) == expected
    assert set(skips) <= {"empty text"}


def test_steam_review_fields(shared_data) -> None:
    _, _, records = parse(shared_data("steam-reviews-warframe") / "review_230410.json")
    msgs = [r for r in records if isinstance(r, F.Message)]
    raw = json.loads((shared_data("steam-reviews-warframe") / "review_230410.json").read_text())["reviews"]
    assert sum(m.meta["voted_up"] for m in msgs) == sum(r["voted_up"] for r in raw.values() if r["review"].strip())
    first = next(m for m in msgs if m.external_id == "186039573")
    assert first.text == "Kann man machen" and first.author == "76561198179746139" and first.time == 1737403712
    assert first.meta["language"] == "german" and first.meta["voted_up"] is True


def test_warframe_hotfixes_in_the_review_window_are_dated(shared_data) -> None:
    _, _, records = parse(shared_data("patch-notes-warframe") / "patchlogs.json")
    titles = {r.title: r for r in records if isinstance(r, F.Change)}
    hotfix = next(r for t, r in titles.items() if t.endswith("Hotfix 38.0.6"))
    assert hotfix.kind == "hotfix" and "2025-01-09" in json.dumps(hotfix.external_id)


def test_dota_chat_keeps_match_conversation_and_toxicity_label(shared_data) -> None:
    _, _, records = parse(shared_data("dota2-ingame-chat-conda") / "CONDA_train.csv")
    m = next(r for r in records if isinstance(r, F.Message) and r.external_id == "6208")
    assert m.text == "i cant\nplay \nwith 4 trash"
    assert m.context == "match:433" and m.thread == "conversation:1836" and m.meta["intent"] == "E"
    assert m.author == "Vintage <3" and m.time is None and m.meta["chat_time"] == 1674


def test_dota_patches_name_heroes_and_items(shared_data) -> None:
    _, _, records = parse(shared_data("dota2-patch-notes") / "patchnotes" / "7.38.json")
    (change,) = records
    assert change.title == "Dota 2 patch 7.38" and "Anti-Mage" in change.text
    assert change.time == 1739865600


def test_hadoop_dates_and_ticket_fields(shared_data) -> None:
    _, _, records = parse(shared_data("bug-tickets-gitbugs") / "hadoop_bugs.csv")
    t = records[0]
    assert t.external_id == "hadoop_bugs:13404344" and t.meta["priority"] == "Blocker"
    assert t.text.startswith("JAR in conflict with timestamp check") and t.time is not None


def test_cookie_cats_player_rows(shared_data) -> None:
    _, _, records = parse(shared_data("cookie-cats-ab-retention") / "cookie_cats.csv")
    assert records[0].player == "116"
    assert records[0].facts == {"version": "gate_30", "sum_gamerounds": 3, "retention_1": False, "retention_7": False}


def test_discord_sample_replies_mentions_and_skips() -> None:
    kinds, skips, records = parse(DATA / "discord_sample.json")
    assert F.detect(DATA / "discord_sample.json").name == "discord"
    msgs = [r for r in records if isinstance(r, F.Message)]
    assert [m.external_id for m in msgs] == ["1326991170539765810", "1326991421019422760", "1326992260022435920"]
    reply = msgs[1]
    assert reply.reply_to == "1326991170539765810" and reply.mentions == ["246772151542464513"]
    assert reply.thread == "953022142022221914" and reply.meta["channel"] == "general"
    assert msgs[0].meta["reactions"] == 3
    assert dict(skips) == {"system message (ChannelPinnedMessage)": 1, "empty text": 1, "message from a bot": 1}


# ---- bad input ------------------------------------------------------------------------------

def test_truncated_json_keeps_every_complete_entry(tmp_path: Path) -> None:
    text = (DATA / "discord_sample.json").read_text()
    cut = text[: text.index('"id": "1326992260022435920"') - 20]  # inside the last message
    path = tmp_path / "cut.json"
    path.write_text(cut)
    kinds, skips, records = parse(path)
    assert kinds["Message"] == 2
    (reason,) = [r for r in records if isinstance(r, F.Skip) and "truncated" in r.reason]
    assert str(path) in reason.where and "entry 5" in reason.where  # the bot message, cut mid-way


def test_csv_missing_column_names_file_and_column(tmp_path: Path) -> None:
    path = tmp_path / "chat.csv"
    path.write_text("Id,matchId,conversationId,utterance,chatTime,playerId\n1,2,3,hi,4,bob\n")
    with pytest.raises(F.FormatError) as info:
        list(F.get("dota-chat").parse(path))
    assert str(path) in str(info.value) and "playerSlot" in str(info.value)


def test_empty_text_and_non_utf8_rows_are_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "posts.csv"
    path.write_bytes(b";post_id;post_flair;post_title;post_date;post_url;post_body\n"
                     b"0;a1;Meme;good post;2020-12-10;u;body\n"
                     b"1;a2;Meme;;2020-12-10;u;\n"
                     b"2;a3;Meme;caf\xe9 latin-1;2020-12-11;u;x\n"
                     b"3;a4;Meme;another;2020-12-12;u;y\n")
    kinds, skips, records = parse(path)
    assert kinds["Message"] == 2
    where = {r.reason: r.where for r in records if isinstance(r, F.Skip)}
    assert where == {"empty text": f"{path}:3", "not valid UTF-8": f"{path}:4"}


def test_a_one_megabyte_message_is_kept_cut_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("id,created,subject,body,status,priority,requester\n"
                    f"T1,2025-01-01,huge,{'x' * 1_000_000},open,high,alice\n")
    (msg,) = [r for r in F.get("tickets").parse(path)]
    assert len(msg.text) == F.MAX_TEXT and msg.meta["cut_from_chars"] == 1_000_000 + len("huge\n\n")


def test_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mystery.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(F.FormatError) as info:
        F.detect(path)
    assert str(path) in str(info.value) and "not a known format" in str(info.value)


def test_any_csv_of_messages_through_a_column_map(tmp_path: Path) -> None:
    from pilang_engine.ingestion.formats import mapped
    path = tmp_path / "export.csv"
    path.write_text("rid,body,posted,who,stars\n1,great update,13/02/2024 10:00,ana,5\n"
                    "2,login broken again,14/02/2024,bo,1\n3,,14/02/2024,cy,3\n4,meh,someday,dee,2\n")
    records = list(mapped.parse(path, "csv", mapped.parse_map("text=body,time=posted,id=rid,author=who,source=forum")))
    msgs = [r for r in records if not isinstance(r, F.Skip)]
    skips = sorted(r.reason for r in records if isinstance(r, F.Skip))
    assert [m.external_id for m in msgs] == ["1", "2"] and skips == ["empty text", "unreadable time"]
    assert msgs[0].source == "forum" and msgs[0].author == "ana" and msgs[0].meta == {"stars": "5"}
    assert msgs[0].time == datetime(2024, 2, 13, 10, tzinfo=timezone.utc).timestamp()  # day first: 13 is no month
    assert msgs[1].time == datetime(2024, 2, 14, tzinfo=timezone.utc).timestamp()  # a date alone, same column
    with pytest.raises(F.FormatError, match="unknown field"):
        mapped.parse_map("txt=body")
    with pytest.raises(F.FormatError, match="no text column"):
        list(mapped.parse(path, "csv", {"text": "comment"}))  # names no column
    assert [m.text for m in mapped.parse(path, "csv", {}) if not isinstance(m, F.Skip)][0] == "great update"  # guessed
    jl = tmp_path / "export.jsonl"
    jl.write_text('{"message": "hello", "timestamp": "2024-02-13T10:00:00Z", "user": "ana", "lang": "en"}\nnot json\n')
    records = list(mapped.parse(jl, "jsonl", {}))  # the usual names, guessed
    assert records[0].text == "hello" and records[0].author == "ana" and records[0].meta == {"lang": "en"}
    assert isinstance(records[1], F.Skip) and records[1].reason == "invalid JSON line"


def test_a_mapped_csv_ingests_once(tmp_path: Path) -> None:
    from pilang_engine.ingestion.pipeline import ingest
    path = tmp_path / "export.csv"
    path.write_text("rid,body,posted\n1,great update,2024-02-13\n2,login broken again,2024-02-14\n")
    ws = Workspace(tmp_path / "ws")
    first = ingest(ws, [path], fmt="csv", mapping="text=body,time=posted,id=rid", progress=False)
    again = ingest(ws, [path], fmt="csv", mapping=["text=body", "time=posted", "id=rid"], progress=False)
    assert first.taken["messages"] == 2 and again.taken["messages"] == 0 and ws.count("messages") == 2


def test_the_review_bombing_export_reads_through_a_map(shared_data: Any) -> None:
    from pilang_engine.ingestion.formats import mapped
    path = shared_data("review-bombing-annotated") / "combined_final_annotation_all_projects.csv"
    records = list(mapped.parse(path, "csv", mapped.parse_map("text=review,time=review_date,id=id,source=source")))
    msgs = [r for r in records if not isinstance(r, F.Skip)]
    assert len(msgs) == 2213 and all(m.time is not None for m in msgs)  # SOURCE.md: 2,213 reviews
    assert {m.source for m in msgs} == {"Steam", "Metacritic"} and "project" in msgs[0].meta
