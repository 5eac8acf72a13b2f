"""The watcher: sync every registered source, then look at what arrived with the anomaly detector, the
drivers analytic, the new complaints and the live checks (analytics/live.py: bursts of alike messages,
crash spikes on a build, on a rolling window), and post each new finding once to a Slack- or Discord-compatible incoming
webhook (`{"text": ...}` / `{"content": ...}`): the one-sentence answer, the counts, a quote or two,
no links. Findings are remembered in the workspace (`alerts`): alerted once, and a delivery that
failed (after retries) is tried again on the next run, never lost silently."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..analytics import live
from ..analytics.series import day_of
from ..ingestion.stages import Stage
from ..workspace.store import Workspace, now_iso
from . import sync
from .http import backoff

POST_TRIES = 4
LAST_SEEN = "watch:last-message-id"  # meta: the newest message id the watcher has looked at
LAST_CRASH = "watch:last-crash-id"  # meta: the newest crash report the watcher has looked at
RAISED = "watch:complaints-raised"  # meta: the new complaints alerted so far (id, label, centroid, terms)


def _quote(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[:n - 1] + "…"


NEW_COMPLAINT_SHARE = 0.5  # a topic born since the last look is a new complaint when most of it is negative
NEW_COMPLAINT_FALSE_ALARMS = 0.01  # ... and it grows: tested at this chance of a false alarm per look
GROWTH_DAYS = 7  # growth: the topic's share of its messages in this many latest days


def findings(ws: Workspace, first_id: int) -> list[dict[str, Any]]:
    """New findings about the messages with id >= first_id: unusual days among the days they fall on,
    topics pulling sentiment down beyond chance, and new complaint topics (born, not split off an old one,
    on or after the first new day, at least the fit's minimum topic size, mostly negative)."""
    from ..analytics.drivers import drivers
    from ..analytics.reports import anomalies
    row = ws.db.execute("SELECT min(time) FROM messages WHERE id >= ? AND time IS NOT NULL", [first_id]).fetchone()
    if row[0] is None:
        return []
    first_day = day_of(row[0])
    found: list[dict[str, Any]] = []
    for a in anomalies(ws, {}).get("evidence", {}).get("anomalies", []):
        if a["day"] >= first_day:
            quotes = [m["text"] for m in a.get("messages", [])[:2] if isinstance(m, dict) and m.get("text")]
            found.append({"key": f"anomaly:{a['day']}:{a['driver']}:{a['direction']}",
                          "text": f"Unusual day {a['day']}: {a['driver']} {a['direction']} (z {a['z']:+.1f});"
                                  f" {a['volume']} messages, mean sentiment {a['sentiment']}",
                          "quotes": quotes})
    d = drivers(ws, {})
    for r in d.get("evidence", {}).get("drivers", []):
        if r.get("significant") and r.get("contribution", 0) < 0:
            period = d["evidence"]["scope"].get("since") or ""
            found.append({"key": f"driver:{r['label']}:{period[:10]}", "text": d["answer"],
                          "quotes": [q["text"] for q in (r.get("quotes") or [])[:2] if q.get("text")]})
    found += new_complaints(ws, first_day)
    return found + live.message_findings(ws, first_id)


def new_complaints(ws: Workspace, first_day: str, alpha: float = NEW_COMPLAINT_FALSE_ALARMS) -> list[dict[str, Any]]:
    """Complaint topics born (or split off an old one) on or after `first_day` (lineage.py) that grow: mostly
    negative, and with more of their messages in the last GROWTH_DAYS than the workspace's share of
    messages there would give (one-sided binomial test). The topic model never reads times, so under "this topic's messages are
    spread over time like everyone's" the test holds; Bonferroni over the topics born this look keeps
    the chance of a false alarm per look at most `alpha`. Each finding is keyed by the topic's stable
    id, so it is alerted once however often it is seen again; and a complaint raised before that comes
    back under a new id (its topic refit away and born again) is not raised again."""
    import numpy as np
    from scipy.stats import binomtest

    from ..analytics.lineage import load
    from ..analytics.sentiment import NEGATIVE
    from ..analytics.series import Scope
    from ..analytics.topics import MIN_MESSAGES, community_fit, fit_times, quotes_for, scope_ids
    ids = scope_ids(ws, Scope())
    if len(ids) < MIN_MESSAGES:
        return []
    fit, _, _ = community_fit(ws, None, ids)  # the workspace's topics, as (topics) and (drivers) read them
    lineage = load(ws, None)["topics"]
    born = []
    for i, topic in enumerate(fit.topics):
        entry = lineage.get(str(topic.get("id")))
        # a topic there at the first fit is not new; one split off an old topic may be (the nerf's complaints
        # split off the rifle's topic on the patch's day): the growth test tells a new complaint from a refinement
        if entry is None or entry.get("first_fit") or (entry.get("born") or "") < first_day:
            continue
        members = np.where(fit.assigned == i)[0]
        scores = fit.sentiment[members]
        scores = scores[~np.isnan(scores)]
        share = float((scores < NEGATIVE).mean()) if len(scores) else 0.0
        if share >= NEW_COMPLAINT_SHARE:
            born.append((i, topic, entry, members, share))
    if not born:
        return []
    days = np.array([day_of(t) if t == t else "" for t in fit_times(ws, fit).tolist()], dtype=object)
    dated = days != ""
    last = max(days[dated]) if dated.any() else ""
    since = str(np.datetime64(last) - np.timedelta64(GROWTH_DAYS - 1, "D")) if last else ""
    recent = dated & (days >= since)
    base = float(recent.sum() / max(dated.sum(), 1))
    raised = json.loads(ws.get_meta(RAISED) or "[]")
    out = []
    for i, topic, entry, members, share in born:
        k, n = int(recent[members].sum()), int(dated[members].sum())
        p = binomtest(k, n, base, alternative="greater").pvalue if n and 0 < base < 1 else 1.0
        if p * len(born) > alpha or _raised_before(raised, fit.centroids[i], topic):
            continue
        raised.append({"id": topic["id"], "label": topic["label"], "centroid": np.round(fit.centroids[i], 5).tolist(),
                       "terms": [t["term"] for t in topic["terms"]]})
        out.append({"key": f"topic-born:{topic['id']}",
                    "text": f"New complaint: {topic['label']} (a topic born {entry['born']}; {len(members)} messages,"
                            f" {share:.0%} negative; {k} of them in the last {GROWTH_DAYS} days, where"
                            f" {base:.0%} of all messages fall: binomial p {p:.2g}, alerted at {alpha:.0%}"
                            " false alarms per look)",
                    "quotes": [q["text"] for q in quotes_for(ws, fit, members)[:2] if q.get("text")],
                    "p": p, "born": entry["born"]})
    if out:
        with ws.transaction(data=False):
            ws.set_meta(RAISED, json.dumps(raised))
    return out


def _raised_before(raised: list[dict[str, Any]], centroid: Any, topic: dict[str, Any]) -> bool:
    """Whether a complaint already raised is this one again, born under another id after the topics were
    refit (matched as lineage.py matches refits)."""
    import numpy as np

    from ..analytics.lineage import alike
    if not raised:
        return False
    terms = {t["term"] for t in topic["terms"]}
    S = np.asarray([r["centroid"] for r in raised], np.float32) @ np.asarray(centroid, np.float32)
    return bool(alike(S, np.array([len(terms & set(r["terms"])) for r in raised])).any())


def message(finding: dict[str, Any], style: str) -> dict[str, Any]:
    body = "pilang: " + finding["text"] + "".join(f"\n> {_quote(q)}" for q in finding["quotes"])
    return {"content": body[:2000]} if style == "discord" else {"text": body}


def post(url: str, payload: dict[str, Any], sleep: Callable[[float], None] = time.sleep) -> str | None:
    """Deliver to a webhook, retrying 5xx, 429 and network failures; None when delivered, else why not."""
    import httpx
    why = None
    for attempt in range(POST_TRIES):
        try:
            response = httpx.post(url, json=payload, timeout=15)
            if response.status_code < 300:
                return None
            why = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                return why  # refused: retrying will not help
        except httpx.HTTPError as exc:
            why = type(exc).__name__
        sleep(backoff() * 2 ** attempt)
    return f"{why} after {POST_TRIES} tries"


def watch_once(ws: Workspace, webhook: str | None = None, style: str = "slack",
               say: Callable[[str], None] = print, stages: Sequence[Stage] | None = None) -> dict[str, Any]:
    """One round: sync (ending with `stages`, see ingestion.pipeline.finish), find, alert. Returns what
    happened (synced, findings, alerted, errors)."""
    errors: list[str] = []
    registered = ws.db.execute("SELECT count(*) FROM connectors").fetchone()[0]
    taken = 0
    if registered:
        report = sync(ws, None, stages=stages)
        errors += report.errors  # a failing source is reported; the others went on
        taken = report.taken["messages"]
    first_id = int(ws.get_meta(LAST_SEEN) or 0) + 1
    newest = ws.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
    new = findings(ws, first_id) if newest >= first_id else []
    first_crash = int(ws.get_meta(LAST_CRASH) or 0) + 1
    newest_crash = ws.db.execute("SELECT max(id) FROM crashes").fetchone()[0] or 0
    if newest_crash >= first_crash:
        new += live.crash_findings(ws, first_crash)
    alerted, failed = deliver(ws, new, webhook, style, say)
    with ws.transaction():
        ws.set_meta(LAST_SEEN, str(newest))
        ws.set_meta(LAST_CRASH, str(newest_crash))
    return {"synced": taken, "findings": len(new), "alerted": alerted, "errors": errors + failed}


def deliver(ws: Workspace, found: list[dict[str, Any]], webhook: str | None = None, style: str = "slack",
            say: Callable[[str], None] = print) -> tuple[int, list[str]]:
    """Post each finding not delivered before (and each that failed before: tried again) to the webhook,
    or `say` it without one; remembered in the workspace's alerts. (alerted, errors)."""
    errors: list[str] = []
    pending = [dict(key=k, text=t, quotes=[]) for k, t in ws.db.execute(
        "SELECT key, text FROM alerts WHERE delivered = 0")]  # failed before: tried again
    alerted = 0
    for f in found + pending:
        done = ws.db.execute("SELECT delivered FROM alerts WHERE key = ?", [f["key"]]).fetchone()
        if done and done[0] == 1:
            continue
        if webhook:
            failure = post(webhook, message(f, style))
        else:
            say(message(f, style)["text" if style != "discord" else "content"])
            failure = None
        with ws.transaction():
            ws.db.execute("INSERT INTO alerts(key, time, text, delivered) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO UPDATE"
                          " SET delivered = excluded.delivered, time = excluded.time",
                          [f["key"], now_iso(), f["text"], 0 if failure else 1])
        if failure:
            errors.append(f"alert {f['key']} not delivered ({failure}); it is tried again next run")
        else:
            alerted += 1
    return alerted, errors


def live_alerts(ws: Workspace, webhook: str | None = None, style: str = "slack",
                say: Callable[[str], None] = print) -> Callable[[], dict[str, Any]]:
    """A check to run whenever new messages are stored (the gateway's flush): the live burst tests
    (analytics/live.py) of the messages stored since the last check, each new finding delivered once."""
    state = {"last": ws.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0}

    def check() -> dict[str, Any]:
        newest = ws.db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
        if newest <= state["last"]:
            return {"findings": 0, "alerted": 0, "errors": []}
        found = live.message_findings(ws, state["last"] + 1)
        state["last"] = newest
        alerted, errors = deliver(ws, found, webhook, style, say)
        return {"findings": len(found), "alerted": alerted, "errors": errors}
    return check
