"""Bad input: every format's parser fuzzed from real samples (deleted fields, swapped types, truncation,
invalid UTF-8, huge strings, deep nesting). Never an exception other than the one file-level
FormatError, and every good entry of the file kept."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pilang_engine.ingestion import formats as F
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
DEMO = ROOT / "examples" / "demo"
SWAPS = [None, "text", 7, 2.5, True, {}, [], {"nested": {"id": "x"}}, ["a", 1], "x" * 200_000]


def steam_sample(n: int = 6) -> dict[str, Any]:
    reviews = {str(900 + i): {"recommendationid": str(900 + i), "review": f"review number {i}: the grind is real",
                              "timestamp_created": 1_700_000_000 + i * 3600, "voted_up": i % 2 == 0,
                              "language": "english", "author": {"steamid": f"7656{i}", "playtime_forever": 10 * i}}
               for i in range(n)}
    return {"success": 1, "query_summary": {"num_reviews": n}, "reviews": reviews}


SAMPLES: dict[str, tuple[str, Any, str | None]] = {  # name -> (format, document, key holding the entries)
    "discord": ("discord", json.loads((DATA / "discord_sample.json").read_text()), "messages"),
    "steam": ("steam-reviews", steam_sample(), "reviews"),
    "patches": ("patch-notes", json.loads((DEMO / "patches.json").read_text()), None),
}


def run(fmt: str, path: Path) -> list[F.Record]:
    """Parse, allowing only the file-level FormatError (which must name the file)."""
    try:
        return list(F.get(fmt).parse(path))
    except F.FormatError as exc:
        assert str(path) in str(exc) or "times like" in str(exc), exc
        return []


def entries(doc: Any, key: str | None) -> list[Any]:
    box = doc if key is None else doc[key]
    return list(box.values()) if isinstance(box, dict) else list(box)


def good(records: list[F.Record]) -> list[str]:
    return [r.external_id for r in records if isinstance(r, (F.Message, F.Change))]


def paths_in(v: Any, at: tuple = ()) -> list[tuple]:
    out = [at]
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths_in(x, (*at, k))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths_in(x, (*at, i))
    return out


def mutate(doc: Any, path: tuple, op: str, swap: Any) -> Any:
    doc = copy.deepcopy(doc)
    if not path:
        return swap if op == "swap" else [[[[doc]]]]
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete" and isinstance(parent, dict):
        del parent[last]
    elif op == "nest":
        value = parent[last]
        for _ in range(600):
            value = [value]
        parent[last] = value
    else:
        parent[last] = swap
    return doc


@pytest.mark.parametrize("name", sorted(SAMPLES))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_mutated_entry_costs_at_most_itself(name: str, data: Any, tmp_path: Path) -> None:
    fmt, doc, key = SAMPLES[name]
    clean = tmp_path / f"clean-{name}.json"
    clean.write_text(json.dumps(doc))
    baseline = good(run(fmt, clean))
    assert baseline
    where = data.draw(st.sampled_from(paths_in(doc)))
    op = data.draw(st.sampled_from(["delete", "swap", "nest"]))
    swap = data.draw(st.sampled_from(SWAPS))
    path = tmp_path / f"bad-{name}.json"
    path.write_text(json.dumps(mutate(doc, where, op, swap)))
    records = run(fmt, path)
    assert all(isinstance(r, (F.Message, F.Change, F.Skip)) for r in records)
    depth = 1 if key is None else 2
    if len(where) >= depth and (key is None or where[0] == key):  # one entry touched: the others all kept
        without = copy.deepcopy(doc)
        box = without if key is None else without[key]
        del box[where[depth - 1]]
        others = tmp_path / f"others-{name}.json"
        others.write_text(json.dumps(without))
        assert set(good(run(fmt, others))) <= set(good(records))


@pytest.mark.parametrize("name", sorted(SAMPLES))
@settings(max_examples=25, deadline=None)
@given(cut=st.floats(0.0, 1.0), junk=st.binary(min_size=1, max_size=8), at=st.floats(0.0, 1.0))
def test_truncated_or_invalid_utf8_files_keep_what_they_can(name: str, cut: float, junk: bytes, at: float,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    fmt, doc, _ = SAMPLES[name]
    raw = json.dumps(doc, indent=1).encode()
    folder = tmp_path_factory.mktemp("cut")
    whole = folder / "whole.json"
    whole.write_bytes(raw)
    order = good(run(fmt, whole))
    truncated = folder / "truncated.json"
    truncated.write_bytes(raw[:int(len(raw) * cut)])
    kept = good(run(fmt, truncated))
    assert kept == order[:len(kept)]  # a prefix of the file's entries, in order
    spliced = folder / "spliced.json"
    i = int(len(raw) * at)
    spliced.write_bytes(raw[:i] + junk + raw[i:])
    records = run(fmt, spliced)
    assert all(isinstance(r, (F.Message, F.Change, F.Skip)) for r in records)


def csv_lines(path: Path, n: int = 40) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)[:n]


@pytest.mark.parametrize("file,fmt", [("tickets.csv", "tickets"), ("telemetry.csv", "telemetry-events")])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_damaged_csv_row_costs_only_itself(file: str, fmt: str, data: Any,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    lines = csv_lines(DEMO / file)
    folder = tmp_path_factory.mktemp("csv")
    clean = folder / file
    clean.write_bytes(b"".join(lines))
    base = run(fmt, clean)
    n = data.draw(st.integers(1, len(lines) - 1))
    damage = data.draw(st.sampled_from([b"", b"\xff\xfe broken", b'"unclosed, quote', b"\x00", b"a,b",
                                        b"x" * 300_000, b",,,,,,,,,,,,,,,,"]))
    (folder / "bad").mkdir()
    bad = folder / "bad" / file  # the same name: ticket ids carry the tracker (the file's stem)
    bad.write_bytes(b"".join(lines[:n] + [damage + b"\n"] + lines[n + 1:]))
    records = run(fmt, bad)
    ids = [getattr(r, "external_id", None) for r in records if not isinstance(r, F.Skip)]
    before = [getattr(r, "external_id", None) for r in base if not isinstance(r, F.Skip)]
    if damage.startswith(b'"'):  # an open quote swallows the rows after it into one field, as CSV says
        lost = [i for i, b in enumerate(before) if b not in ids]
        assert lost == list(range(n - 1, n - 1 + len(lost)))  # one run of rows from the damaged one
        assert len(set(ids) - set(before)) <= 1
    else:
        assert len(set(before) - set(ids)) <= 1


def test_discord_oddities_real_exports_have(tmp_path: Path) -> None:
    """A bare-string author, and a channel named "messages" (the old key scanner found the name)."""
    doc = json.loads((DATA / "discord_sample.json").read_text())
    doc["channel"]["name"] = "messages"
    doc["messages"][1]["author"] = "bob"
    doc["messages"][5]["author"] = ["not", "an", "author"]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))
    records = list(F.get("discord").parse(path))
    msgs = [r for r in records if isinstance(r, F.Message)]
    assert len(msgs) == 2 and msgs[1].author == "bob" and msgs[0].meta["channel"] == "messages"
    skips = {r.reason for r in records if isinstance(r, F.Skip)}
    assert "author is neither an object nor a name" in skips
    ws = Workspace(tmp_path / "ws")
    report = ingest(ws, [path], embed=False, progress=False)
    assert report.errors == [] and report.taken["messages"] == 2


def test_two_player_tables_with_one_name_are_two_tables(tmp_path: Path) -> None:
    for folder, rows in (("a", "userid,level\n1,3\n2,5\n"), ("b", "userid,level\n1,9\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "players.csv").write_text(rows)
    ws = Workspace(tmp_path / "ws")
    first = ingest(ws, [tmp_path / "a" / "players.csv"], embed=False, progress=False)
    second = ingest(ws, [tmp_path / "b" / "players.csv"], embed=False, progress=False)
    again = ingest(ws, [tmp_path / "a" / "players.csv"], embed=False, progress=False)
    assert first.taken["player rows"] == 2 and second.taken["player rows"] == 1 and again.taken["player rows"] == 0
    tables = dict(ws.db.execute("SELECT source, count(DISTINCT player) FROM player_facts GROUP BY source").fetchall())
    assert tables == {"players": 2, "players-b": 1}
    assert any("is table players-b" in note for note in second.notes)


BAD_RUNS = [
    ["ingest", "{missing}"],
    ["ingest", "{garbage}"],
    ["ingest", "--beam", "{garbage}"],
    ["ingest", "--format", "discord", "{garbage}"],
    ["ingest", "--map", "nonsense", "{garbage}"],
    ["ingest", "--window", "level=oops", "{garbage}"],
    ["train", "gnn"],
    ["train", "fno"],
    ["report", "--since", "not-a-date"],
    ["eval", "--no-such-flag"],
    ["kernel", "install", "--prefix", "/proc/pilang-cannot-write-here"],
    ["demo", "--make", "/proc/pilang-cannot-write-here"],
    ["sync"],
    ["sync", "steam"],
    ["sync", "steam", "--app", "10", "--api-base", "http://127.0.0.1:9"],
    ["sync", "discord", "--channel", "1", "--api-base", "http://127.0.0.1:9"],
    ["watch", "--once"],
    ["watch", "--once", "--webhook-env", "NO_SUCH_VARIABLE"],
    ["watch", "--every", "soon"],
    ["--workspace", "{garbage}", "-e", "(stats)"],
    ["--workspace", "{broken}", "-e", "(stats)"],
    ["--workspace", "{broken}", "ingest", "{garbage}"],
    ["{garbage}"],
    ["-e", "(car 5)"],
    ["-e", "(ingest \"{garbage}\")"],
    ["-e", "(query (type analytics) (target sentiment))"],
]


@pytest.mark.parametrize("argv", BAD_RUNS, ids=[" ".join(a) for a in BAD_RUNS])
def test_no_traceback_on_bad_input_anywhere(argv: list[str], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b'{"guild": {}, "channel": [1, 2], "messages": {"\xff": ')
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "workspace.db").write_bytes(b"not a database, a text file someone saved here" * 50)
    args = [a.format(missing=tmp_path / "none.json", garbage=garbage, broken=broken) for a in argv]
    env = {**os.environ, "PILANG_WORKSPACE": str(tmp_path / "ws"), "PILANG_HTTP_BACKOFF": "0.01"}
    done = subprocess.run([sys.executable, "-m", "pilang", *args], capture_output=True, text=True, timeout=300,
                          env=env, check=False)
    output = done.stdout + done.stderr
    assert "Traceback" not in output and output.strip(), output[-3000:]
    if done.returncode == 0:  # a run that went on says what it could not take
        assert any(w in output.lower() for w in ("error", "skipped", "no dated messages")), output[-2000:]


LINES = [{"id": f"r{i}", "review": f"the new season is {'great' if i % 2 else 'a grind'} #{i}",
          "date": f"2025-04-{1 + i % 28:02d} 10:00", "user": f"u{i % 7}"} for i in range(30)]


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 29), swap=st.sampled_from(SWAPS[:-1]), field=st.sampled_from(["id", "review", "date", "user"]))
def test_a_mapped_file_with_one_bad_row_keeps_the_rest(kind: str, n: int, swap: Any, field: str,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    from pilang_engine.ingestion.formats.mapped import mapped, parse_map
    rows = copy.deepcopy(LINES)
    rows[n][field] = swap
    path = tmp_path_factory.mktemp("mapped") / f"reviews.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        import csv
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(LINES[0]))
            w.writeheader()
            w.writerows({k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in r.items()} for r in rows)
    form = mapped(kind, parse_map("text=review,time=date,id=id,author=user,source=steam"))
    try:
        records = list(form.parse(path))
    except F.FormatError as exc:
        assert str(path) in str(exc) or "times like" in str(exc)
        return
    kept = {r.external_id for r in records if isinstance(r, F.Message)}
    assert {f"r{i}" for i in range(30) if i != n} <= kept | ({str(swap)} if field == "id" else set())
