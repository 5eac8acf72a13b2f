"""Alerts within a minute: what just arrived, tested on a rolling window against what is usual.

Bursts. Each new message is the centre of one test: how many other players wrote a message alike to it
in the WINDOW before it (the group: cosine >= ALIKE to the centre, then to those messages' mean). What
is usual comes from the history before the last hour (up to HISTORY_DAYS): the share of a seeded
sample of past messages of the same hours alike to the group (one added to both counts, so a message
like none before still has a rate), times the messages a window usually holds at this hour of the day.
The count of alike players is tested as Poisson with that mean, at least MIN_PLAYERS players (the centre
included). Chat clumps (a thread draws alike replies), so the Poisson p-value is not trusted alone: a
burst must also beat the smallest p-value of every one of the past D whole days, each tested as the
stream tested it (against the history before that day; `day_low`), which on exchangeable quiet days
caps the false alarms at 1 / (D + 1) a day, the figure each alert states; and the Poisson level of
FALSE_ALARMS_PER_DAY over the messages a day brings (Bonferroni) still applies. No burst alerts before
MIN_CALIBRATION_DAYS of history. Players, not messages, are counted: one player repeating a complaint,
or two in an argument, is not a burst.

Crash spikes. Each new crash report tests its build: the distinct players who reported a crash on that
build in the 5 minutes and in the hour before it (CRASH_WINDOWS), against what the whole game usually
brings in such a window (every build, over the history; a build's own past would make a bad build's
first hour its normal), scaled by the hour of the day's share of the reports (players crash when they
play), Poisson, at FALSE_ALARMS_PER_DAY over the day's reports and both windows (Bonferroni). Players,
not reports: a player whose game crashes on every restart is one.

A finding is raised once: a burst alike to one raised or seen in the last REMEMBER_HOURS, or a spike on a
build raised or seen then, is the same finding (and keeps it remembered: a complaint that keeps bursting
all day is raised once; a login outage the next evening is a new finding). Burst messages are named by the workspace's topics without a refit (the
nearest living topic of the lineage, lineage.py, when at least TOPIC_COSINE alike) and by their players'
personas (assigned at ingest without a refit, personas/clusters.refresh)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..workspace.derived import derived
from ..workspace.store import Workspace
from .series import DAY

WINDOW = 300.0  # seconds a burst is counted over
ALIKE = 0.5  # cosine at which two messages say the same thing (MiniLM: "can't log in" ~ "login servers down?")
MIN_PLAYERS = 3  # fewer players than this is a conversation, never a burst
FALSE_ALARMS_PER_DAY = 0.05  # the Poisson tests' level a day (Bonferroni); bursts also beat the quiet days before
HISTORY_DAYS = 28
HISTORY_GAP = 3600.0  # the history ends this long before the check: a burst never enters its own baseline
MIN_HISTORY_MESSAGES = 200
MIN_CALIBRATION_DAYS = 7  # no burst alerts before a week of history (then at most 1/8 false alarms a day)
SAMPLE = 5000  # past messages the share alike is estimated on
BAND_HOURS = 1  # ... among those said within this many hours of the day of the message tested
SEED = 0
REMEMBER_HOURS = 3.0  # a burst alike to one raised (and seen again) within this many hours is the same finding
LIVE_HOURS = 24.0  # messages older than this (a backfill) are history, never a live alert
TOPIC_COSINE = 0.5
QUOTES = 3
BURSTS = "live:bursts"  # meta: bursts raised (time, last seen, centroid, messages), so each is raised once
SPIKES = "live:crash-spikes"  # meta: build -> time a spike on it was raised


@dataclass
class History:
    """What is usual before `until`: a sample of past message vectors, the messages a WINDOW holds at each
    hour of the day, the messages a day brings, and the calibration: the smallest p-value of each past
    day's own burst tests (`bar`, the most extreme of `days` quiet days)."""
    sample: np.ndarray
    sample_times: np.ndarray  # when each sampled message was said
    per_window: np.ndarray  # 24 values
    per_day: float
    messages: int
    until: float
    bar: float = 0.0  # a burst's p must be below this (0 until calibrated: nothing passes)
    days: int = 0  # the quiet days the bar was measured on

    @classmethod
    def of(cls, times: np.ndarray, X: np.ndarray, until: float, seed: int = SEED, every: np.ndarray | None = None
           ) -> History:
        """From past messages' times and unit vectors (only those before `until` are read); `every`: the
        times of all past messages when `times` are a sample of them (the rates are of all)."""
        keep = np.isfinite(times) & (times < until) & (times >= until - HISTORY_DAYS * DAY)
        times, X = times[keep], X[keep]
        rated = times if every is None else every[(every < until) & (every >= until - HISTORY_DAYS * DAY)]
        if not len(times) or not len(rated):
            return cls(np.zeros((0, X.shape[1]), np.float32), np.zeros(0), np.zeros(24), 0.0, 0, until)
        days = max((until - float(rated.min())) / DAY, 1.0)
        # one message added to every hour: an hour with none before still has a rate
        per_window = (np.bincount(((rated % DAY) // 3600).astype(int), minlength=24) + 1.0) / (days * 3600 / WINDOW)
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(times), SAMPLE, replace=False)) if len(times) > SAMPLE else np.arange(len(times))
        return cls(X[pick].astype(np.float32), times[pick], per_window, len(rated) / days, len(rated), until)

    def expected(self, when: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The alike messages a WINDOW ending at each `when` usually holds, for each message of `X`: the
        messages of a window at that hour times the share alike among past messages of the same hours
        (within BAND_HOURS: who writes what depends on the hour, players of one language in their evening)."""
        hour = ((when % DAY) // 3600).astype(int)
        if not len(self.sample):
            return self.per_window[hour]
        alike = X @ self.sample.T >= ALIKE
        sample_hours = ((self.sample_times % DAY) // 3600).astype(int)
        gap = np.abs(hour[:, None] - sample_hours[None, :])
        near = np.minimum(gap, 24 - gap) <= BAND_HOURS
        share = ((alike & near).sum(axis=1) + 1.0) / (near.sum(axis=1) + 1.0)
        return self.per_window[hour] * share

    def false_alarms(self) -> float:
        """The false alarms a day this history's bursts are raised at: 1 / (days + 1) (see `calibrated`)."""
        return 1.0 / (self.days + 1)

    def level(self, rate: float = FALSE_ALARMS_PER_DAY) -> float:
        """The p a burst must reach: below the calibration's bar, and at most the Poisson test's
        Bonferroni level (`rate` over the messages a day brings)."""
        return min(rate / max(self.per_day, 1.0), np.nextafter(self.bar, 0))

    def past_days(self) -> range:
        """The whole days (start // DAY) before `until`, up to HISTORY_DAYS back: what it calibrates on."""
        return range(int(np.ceil((self.until - HISTORY_DAYS * DAY) / DAY)), int(np.floor(self.until / DAY)))

    def calibrated(self, lows: dict[int, float | None]) -> History:
        """With the bar of the whole days before `until` (up to HISTORY_DAYS): `lows` maps each day
        (its start // DAY) to its low (`day_low`), None for a day that could not be tested. The bar is
        the smallest low. On days that are exchangeable (no day differs from another but by chance), the
        chance that a new quiet day beats every one of D past days is 1 / (D + 1): the false alarms a day,
        whatever the chat's clumping (threads, a language's evening), which the Poisson test alone does
        not know."""
        days = self.past_days()
        known = [p for d, p in lows.items() if d in days and p is not None]
        return replace(self, bar=float(min(known)) if known else 0.0, days=len(known))


def day_low(times: np.ndarray, authors: np.ndarray, X: np.ndarray, day: int,
            raised: list[tuple[float, float, np.ndarray]] = (), history: History | None = None) -> float | None:
    """The smallest p-value of the burst tests of one past day (`day` = its start // DAY), each message
    tested as the stream tested it: against the history before the day (less HISTORY_GAP), so the day
    never sees itself. None when that history is too short to test (MIN_HISTORY_MESSAGES) or the day
    said nothing. The bursts `raised` ((first seen, last seen, centroid)) are events, not quiet: their
    groups are left out, else one outage would raise the bar past the next for HISTORY_DAYS."""
    start = day * DAY
    inside = np.where((times >= start) & (times < start + DAY))[0]
    history = history or History.of(times, X, start - HISTORY_GAP)
    if not len(inside) or history.messages < MIN_HISTORY_MESSAGES:
        return None
    low = 1.0
    for t in _tests(times, authors, X, inside, history):
        when = float(times[t["at"]])
        if not any(w - WINDOW <= when <= seen + REMEMBER_HOURS * 3600 and float(t["centroid"] @ c) >= ALIKE
                   for w, seen, c in raised):
            low = min(low, t["p"])
    return low


def _alike(times: np.ndarray, authors: np.ndarray, X: np.ndarray, centres: np.ndarray
           ) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """(centre, players, members, centroid) of every centre with at least MIN_PLAYERS players in its group
    among the messages of the WINDOW before it (none after it: what a stream knows). The group: the
    messages alike to the centre, then those alike to their mean (paraphrases of one complaint are more
    alike to their mean than to each other: "servers down?" and "can't log in" ~0.45, each ~0.7 to the mean)."""
    out = []
    for b in range(0, len(centres), 256):
        block = centres[b:b + 256]
        lo = np.searchsorted(times, times[block] - WINDOW, side="left")
        j = np.arange(int(lo.min()), int(block.max()) + 1)
        inside = (j[None, :] >= lo[:, None]) & (j[None, :] <= block[:, None])
        alike = (X[block] @ X[j].T >= ALIKE) & inside
        for r in np.where(alike.sum(axis=1) >= 2)[0]:
            centroid = _unit(X[j[alike[r]]].mean(axis=0, keepdims=True))[0]
            members = j[inside[r] & (X[j] @ centroid >= ALIKE)]
            players = len(set(authors[members].tolist()))
            if players >= MIN_PLAYERS:
                out.append((int(block[r]), players, members, centroid))
    return out


def _tests(times: np.ndarray, authors: np.ndarray, X: np.ndarray, centres: np.ndarray, history: History
           ) -> list[dict[str, Any]]:
    from scipy.stats import poisson
    found = _alike(times, authors, X, centres)
    if not found:
        return []
    at = np.array([f[0] for f in found])
    lam = history.expected(times[at], np.stack([f[3] for f in found]))
    # the players of the group besides the centre's, Poisson with the usual mean: P(at least this many)
    return [{"at": c, "members": m, "players": k, "centroid": g, "expected": float(mu), "p": float(poisson.sf(k - 2, mu))}
            for (c, k, m, g), mu in zip(found, lam.tolist())]


def bursts(times: np.ndarray, authors: np.ndarray, X: np.ndarray, centres: np.ndarray, history: History,
           rate: float = FALSE_ALARMS_PER_DAY) -> list[dict[str, Any]]:
    """The burst tests of the messages at positions `centres` (of `times`, sorted ascending; unit vectors
    `X`; `authors`) that have MIN_PLAYERS players alike: each with its members, players, the mean the
    history expects, the p-value, and whether it is a burst (`history` calibrated)."""
    level = history.level(rate)
    return [{**t, "burst": t["p"] <= level} for t in _tests(times, authors, X, centres, history)]


CRASH_WINDOWS = (WINDOW, 3600.0)  # a bad build that crashes 10x shows in minutes, one that crashes 3x in an hour


def crash_spikes(times: np.ndarray, builds: np.ndarray, players: np.ndarray, centres: np.ndarray,
                 until: float, rate: float = FALSE_ALARMS_PER_DAY) -> list[dict[str, Any]]:
    """The crash-spike tests of the reports at `centres` (of `times`, ascending): the distinct players who
    reported a crash on the centre's build in each of CRASH_WINDOWS before it, against what the whole game
    (every build) usually brings in such a window at that hour, from the reports before `until`. A
    build's own past is no baseline: a bad build's first hour would become its normal."""
    from scipy.stats import poisson
    past = np.isfinite(times) & (times < until) & (times >= until - HISTORY_DAYS * DAY)
    if not past.any():
        return []
    span = max(until - float(times[past].min()), 3600.0)
    level = rate / max(past.sum() / max(span / DAY, 1.0), 1.0) / len(CRASH_WINDOWS)
    # players crash when they play: each hour of the day's share of the reports (one added to each hour)
    hourly = np.bincount(((times[past] % DAY) // 3600).astype(int), minlength=24) + 1.0
    hourly = hourly / hourly.mean()
    # distinct players a window of each length usually holds: (player, window) pairs a second
    usual = {w: len(set(zip(players[past].tolist(), (times[past] // w).tolist()))) / span for w in CRASH_WINDOWS}
    out = []
    for c in centres.tolist():
        b, best = builds[c], None
        for w in CRASH_WINDOWS:
            lo = int(np.searchsorted(times, times[c] - w, side="left"))
            window = np.arange(lo, c + 1)
            window = window[builds[window] == b]
            k = len(set(players[window].tolist()))
            mu = float(usual[w] * w * hourly[int(times[c] % DAY // 3600)])
            p = float(poisson.sf(k - 1, mu)) if k else 1.0
            if best is None or p < best["p"]:
                best = {"at": c, "build": b, "members": window, "players": k, "expected": mu, "p": p, "window": w,
                        "spike": k >= MIN_PLAYERS and p <= level}
        out.append(best)
    return out


# ---- on a workspace -------------------------------------------------------------------------------


def _history(ws: Workspace, until: float, raised: list[tuple[float, float, np.ndarray]]) -> History:
    """The history before the hour of `until` (less HISTORY_GAP; cached: it moves on once an hour),
    calibrated on the whole days before (each day's low computed once, when first needed, and kept in
    the workspace's meta)."""
    hour = float(until // 3600 * 3600 - HISTORY_GAP)

    history = derived(ws, "live-history", lambda: _before(ws, hour), key=(hour, ws.embed_model), versioned=False)
    return history.calibrated(_lows(ws, history, raised))


LOWS = "live:day-lows"  # meta: each past day's low (day_low), by the embedding model that scored it


def _lows(ws: Workspace, history: History, raised: list[tuple[float, float, np.ndarray]]) -> dict[int, float | None]:
    stored = json.loads(ws.get_meta(LOWS) or "{}")
    lows = {int(d): p for d, p in stored.get(ws.embed_model, {}).items()}
    days = history.past_days()
    missing = [d for d in days if d not in lows]
    for d in missing:
        start = d * DAY
        # the day's messages and the history before it: what the stream tested that day with
        day_times, day_authors, day_X = _past(ws, start - WINDOW, start + DAY)
        lows[d] = day_low(day_times, day_authors, day_X, d, raised, _before(ws, start - HISTORY_GAP))
    if missing:
        kept = {str(d): p for d, p in lows.items() if d >= days.start - 7}
        with ws.transaction(data=False):
            ws.set_meta(LOWS, json.dumps({ws.embed_model: kept}))
    return lows


def _before(ws: Workspace, until: float) -> History:
    """The workspace's history before `until`: a sample of its vectors, the rates of all its messages."""
    since = until - HISTORY_DAYS * DAY
    times, _, X = _past(ws, since, until, SAMPLE)
    every = np.array([r[0] for r in ws.db.execute("SELECT time FROM messages WHERE time >= ? AND time < ? AND text != ''",
                                                  [since, until])], float)
    return History.of(times, X, until, every=every)


def _past(ws: Workspace, since: float, until: float, sample: int | None = None
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, authors, unit vectors) of the messages said in [since, until) with a vector, by time; a
    seeded sample of at most `sample` of them if given."""
    from .sentiment import message_vectors
    rows = ws.db.execute("SELECT id, time, coalesce(author, '') FROM messages WHERE time >= ? AND time < ?"
                         " AND text != '' ORDER BY time, id", [since, until]).fetchall()
    if sample is not None and len(rows) > sample:
        keep = np.sort(np.random.default_rng(SEED).choice(len(rows), sample, replace=False))
        rows = [rows[i] for i in keep]
    found = np.zeros(len(rows), bool)
    X = _unit(message_vectors(ws, [r[0] for r in rows], found))
    return (np.array([r[1] for r in rows], float)[found], np.array([r[2] or f"#{r[0]}" for r in rows], dtype=object)[found],
            X[found])


def _unit(X: np.ndarray) -> np.ndarray:
    return (X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-9)).astype(np.float32)


def message_findings(ws: Workspace, first_id: int, now: float | None = None) -> list[dict[str, Any]]:
    """Bursts among the messages with id >= first_id said in the last LIVE_HOURS (before `now`), each
    raised once (see the module's doc)."""
    from .sentiment import message_vectors
    now = time.time() if now is None else now
    new = ws.db.execute("SELECT min(time) FROM messages WHERE id >= ? AND time >= ? AND time <= ? AND text != ''",
                        [first_id, now - LIVE_HOURS * 3600, now + 60]).fetchone()[0]
    if new is None:
        return []
    rows = ws.db.execute("SELECT id, time, coalesce(author, ''), text FROM messages WHERE time >= ? AND time <= ?"
                         " AND text != '' ORDER BY time, id", [new - WINDOW, now + 60]).fetchall()
    ids = np.array([r[0] for r in rows], np.int64)
    times = np.array([r[1] for r in rows], float)
    authors = np.array([r[2] or f"#{r[0]}" for r in rows], dtype=object)
    found = np.zeros(len(ids), bool)
    X = _unit(message_vectors(ws, ids.tolist(), found))
    raised = [b for b in json.loads(ws.get_meta(BURSTS) or "[]") if b["seen"] >= now - HISTORY_DAYS * DAY]
    history = _history(ws, float(new), [(b["time"], b["seen"], np.asarray(b["centroid"], np.float32)) for b in raised])
    if history.messages < MIN_HISTORY_MESSAGES or history.days < MIN_CALIBRATION_DAYS:
        return []
    centres = np.where((ids >= first_id) & found & (times >= new))[0]
    out = []
    for t in bursts(times, authors, X, centres, history):
        if not t["burst"]:
            continue
        when = float(times[t["at"]])
        members = ids[t["members"]].tolist()
        same = [b for b in raised if same_finding(b, when, t["centroid"], members)]
        for b in same:
            b["seen"] = max(b["seen"], when)
            b["members"] = sorted(set(b.get("members", [])) | set(members))[-KEPT_MEMBERS:]
        if not same:
            raised.append({"time": when, "seen": when, "centroid": np.round(t["centroid"], 5).tolist(),
                           "members": members[-KEPT_MEMBERS:]})
            out.append(_burst_finding(ws, t, ids, times, authors, rows, history, X))
    with ws.transaction(data=False):
        ws.set_meta(BURSTS, json.dumps(raised))
    return out


KEPT_MEMBERS = 500  # the latest messages of a raised burst remembered (what a later group may share)


def same_finding(raised: dict[str, Any], when: float, centroid: np.ndarray, members: list[Any]) -> bool:
    """Whether a burst at `when` (its group's mean, its messages) is one raised before and seen within
    REMEMBER_HOURS: alike to it, or sharing a message with it (paraphrases drift: the same outage's
    later group can sit under ALIKE from the first's mean, but its window still holds the first's
    messages)."""
    if when - raised["seen"] >= REMEMBER_HOURS * 3600:
        return False
    return (float(centroid @ np.asarray(raised["centroid"], np.float32)) >= ALIKE
            or bool(set(members) & set(raised.get("members", []))))


def _burst_finding(ws: Workspace, t: dict[str, Any], ids: np.ndarray, times: np.ndarray, authors: np.ndarray,
                   rows: list[tuple[Any, ...]], history: History, X: np.ndarray) -> dict[str, Any]:
    from ..workspace.dates import iso
    members = t["members"]
    first = float(times[members].min())
    topic = _topic(ws, t["centroid"])
    personas = dict(ws.rows_in("SELECT persona, count(*) FROM persona_members WHERE author IN ({marks}) GROUP BY persona",
                               sorted(set(authors[members].tolist()))))
    names = dict(ws.db.execute("SELECT id, name FROM personas").fetchall())
    mix = ", ".join(f"{names.get(p, p)} {n}" for p, n in sorted(personas.items(), key=lambda kv: -kv[1]))
    quotes, seen = [], set()
    for i in members[np.argsort(-(X[members] @ t["centroid"]))].tolist():  # the most typical, one a player
        if authors[i] not in seen and rows[i][3] not in quotes and len(quotes) < QUOTES:
            seen.add(authors[i])
            quotes.append(rows[i][3])
    about = f"about {topic['label']!r} (topic {topic['id']})" if topic else "like no known topic"
    return {"key": f"burst:{int(ids[t['at']])}",
            "text": (f"Burst since {iso(first)}: {t['players']} players wrote alike messages within"
                     f" {int(WINDOW // 60)} minutes, {about}, where {t['expected']:.2g} alike are usual at this"
                     f" hour (Poisson p {t['p']:.2g}, beyond the most extreme of the {history.days} days before:"
                     f" at most {history.false_alarms():.2g} false alarms a day)"
                     + (f"; players' personas: {mix}" if mix else "")),
            "quotes": quotes, "p": t["p"], "since": iso(first), "players": t["players"],
            "topic": topic["id"] if topic else None}


def _topic(ws: Workspace, centroid: np.ndarray) -> dict[str, Any] | None:
    """The living topic of the workspace's lineage nearest to `centroid` (no refit), if close enough."""
    from .lineage import load
    living = [(tid, t) for tid, t in load(ws, None)["topics"].items() if t.get("died") is None and t.get("centroid")]
    if not living:
        return None
    C = _unit(np.asarray([t["centroid"] for _, t in living], np.float32))
    s = C @ centroid
    best = int(np.argmax(s))
    return {"id": int(living[best][0]), "label": living[best][1]["label"]} if s[best] >= TOPIC_COSINE else None


def crash_findings(ws: Workspace, first_id: int, now: float | None = None) -> list[dict[str, Any]]:
    """Crash spikes among the reports with id >= first_id made in the last LIVE_HOURS."""
    from ..workspace.dates import iso
    now = time.time() if now is None else now
    new = ws.db.execute("SELECT min(time) FROM crashes WHERE id >= ? AND time >= ? AND time <= ?",
                        [first_id, now - LIVE_HOURS * 3600, now + 60]).fetchone()[0]
    if new is None:
        return []
    until = float(new // 3600 * 3600 - HISTORY_GAP)
    rows = ws.db.execute("SELECT id, time, coalesce(build, ''), coalesce(player, ''), stack_hash, message FROM crashes"
                         " WHERE time >= ? AND time <= ? ORDER BY time, id",
                         [until - HISTORY_DAYS * DAY, now + 60]).fetchall()
    ids = np.array([r[0] for r in rows], np.int64)
    times = np.array([r[1] for r in rows], float)
    builds = np.array([r[2] for r in rows], dtype=object)
    players = np.array([r[3] or f"#{r[0]}" for r in rows], dtype=object)
    centres = np.where((ids >= first_id) & (times >= new))[0]
    raised = {b: t for b, t in json.loads(ws.get_meta(SPIKES) or "{}").items() if t >= now - LIVE_HOURS * 3600}
    out = []
    for t in sorted((t for t in crash_spikes(times, builds, players, centres, until) if t["spike"]), key=lambda t: t["p"]):
        if t["build"] in raised and float(times[t["at"]]) - raised[t["build"]] < REMEMBER_HOURS * 3600:
            raised[t["build"]] = max(raised[t["build"]], float(times[t["at"]]))  # the same spike, still going
            continue
        members = t["members"]
        raised[t["build"]] = float(times[t["at"]])
        stacks: dict[str, int] = {}
        for i in members.tolist():
            stacks[rows[i][4]] = stacks.get(rows[i][4], 0) + 1
        top = max(stacks, key=stacks.get)
        message = next((rows[i][5] for i in members.tolist() if rows[i][4] == top and rows[i][5]), "")
        out.append({"key": f"crash-spike:{t['build']}:{int(ids[t['at']])}",
                    "text": (f"Crash spike on build {t['build'] or '(none)'} since {iso(float(times[members].min()))}:"
                             f" {t['players']} players crashed within {int(t['window'] // 60)} minutes, where {t['expected']:.2g}"
                             f" are usual for the whole game at this hour (Poisson p {t['p']:.2g}; alerted at {FALSE_ALARMS_PER_DAY:g}"
                             f" false alarms a day); most often stack {top} ({stacks[top]} reports)"),
                    "quotes": [message] if message else [], "p": t["p"], "build": t["build"]})
    with ws.transaction(data=False):
        ws.set_meta(SPIKES, json.dumps(raised))
    return out
