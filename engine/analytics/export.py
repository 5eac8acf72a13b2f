"""Every message with what the engine read in it, for a studio's own BI tools (`pilang export messages`):
id, source, time, author pseudonym, text, language, sentiment (score, label, its probability and all
three), toxicity (P(toxic), English only), topic (id and label) and persona. Written in batches, so a large workspace streams."""
from __future__ import annotations

import csv
import json
import time
from typing import Any, TextIO

import numpy as np

from ..workspace.dates import iso
from ..workspace.store import Workspace, WorkspaceError
from .sentiment import _vectors_for_packaged, model_for
from .sentiment_features import LABELS
from .series import Scope
from .toxicity import packaged_toxicity

COLUMNS = ["id", "source", "time", "author", "text", "language", "sentiment", "sentiment_label",
           "sentiment_probability", "p_negative", "p_neutral", "p_positive", "toxicity", "topic", "topic_label", "persona"]
BATCH = 5000


def _topics(ws: Workspace, scope: Scope, ids: np.ndarray, notes: list[str]
            ) -> tuple[dict[int, int], list[dict[str, Any]]]:
    """Each message's topic, from the fit the same scope's `topics` answer uses."""
    from .topics import community_fit, scope_ids
    try:
        community = scope_ids(ws, Scope(scope.source, scope.since, scope.until), dated=scope.since is not None
                              or scope.until is not None) if scope.filters else ids
        fit, _, _ = community_fit(ws, scope.source, community)
    except (WorkspaceError, ValueError) as exc:
        notes.append(f"no topics: {exc}")
        return {}, []
    pos = fit.positions(ids)
    return dict(zip(ids.tolist(), fit.assigned[pos].tolist())), fit.topics


def export_messages(ws: Workspace, out: TextIO, fmt: str = "csv", scope: Scope | None = None,
                    topics: bool = True) -> dict[str, Any]:
    """Write the messages in scope (all of them, dated or not, unless since/until ask for dates) as CSV with
    a header or as JSON lines; what was written, and any notes (e.g. why topics are empty)."""
    if fmt not in ("csv", "jsonl"):
        raise WorkspaceError(f"export format is csv or jsonl, not {fmt!r}")
    started, notes = time.perf_counter(), []
    scope = scope or Scope()
    dated = scope.since is not None or scope.until is not None
    cond, args = scope.where(dated=dated)
    ids = np.array([r[0] for r in ws.db.execute(f"SELECT id FROM messages WHERE {cond} ORDER BY id", args)],
                   dtype=np.int64)
    topic_of, topic_list = _topics(ws, scope, ids, notes) if topics and len(ids) else ({}, [])
    if not topics:
        notes.append("topics left out (--no-topics)")
    personas = dict(ws.db.execute("SELECT pm.author, p.name FROM persona_members pm JOIN personas p"
                                  " ON p.id = pm.persona").fetchall())
    if not personas:
        notes.append("no personas fitted yet: the persona column is empty")
    model, toxicity = model_for(ws), packaged_toxicity()
    writer = csv.DictWriter(out, COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    written = unscored = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH].tolist()
        P, langs = model.proba_and_languages(chunk)
        rows = {r[0]: r for r in ws.rows_in("SELECT id, source, time, author, text FROM messages WHERE id IN"
                                             " ({marks})", chunk)}
        texts = [rows[mid][4] or "" for mid in chunk]
        has = np.zeros(len(chunk), bool)
        tox = toxicity.proba(texts, _vectors_for_packaged(ws, chunk, texts, has), langs, has)
        for k, mid in enumerate(chunk):
            _, source, t, author, text = rows[mid]
            p = P[k]
            record: dict[str, Any] = {"id": mid, "source": source, "time": iso(t), "author": author, "text": text,
                                      "language": langs[k]}
            if np.isnan(p[0]):
                unscored += 1
                record.update({c: None for c in COLUMNS[6:12]})
            else:
                best = int(p.argmax())
                record.update({"sentiment": round(float(p[2] - p[0]), 4), "sentiment_label": LABELS[best],
                               "sentiment_probability": round(float(p[best]), 4), "p_negative": round(float(p[0]), 4),
                               "p_neutral": round(float(p[1]), 4), "p_positive": round(float(p[2]), 4)})
            record["toxicity"] = None if np.isnan(tox[k]) else round(float(tox[k]), 4)
            topic = topic_of.get(mid)
            record["topic"] = topic if topic is not None and topic >= 0 else None
            record["topic_label"] = topic_list[topic]["label"] if record["topic"] is not None else None
            record["persona"] = personas.get(author)
            if writer:
                writer.writerow({c: "" if v is None else v for c, v in record.items()})
            else:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
    return {"messages": written, "unscored": unscored, "format": fmt, "sentiment_model": model.describe()["model"],
            "toxicity_model": toxicity.summary(),
            "notes": notes, "seconds": round(time.perf_counter() - started, 2)}
