"""What players are upset about, what changed, since when, and after which change. First the level: the
topics with the most negative messages in the period in scope (a steady complaint is the biggest one
even when nothing about it changed), each with its share of the topic and whether its complaints rose at
a dated point since the data begin. Then the change against the period before: each topic's volume,
negative share and net sentiment in both; topics ranked by their part in the change of the community's
net sentiment (the parts add up to the whole change), with a bootstrap over players (not messages) for
how sure each part is; the day the topic's complaints rose (one least-squares break, claimed only when a
permutation test passes at 5% false alarms per topic) and the dated change (patch note) just before it."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..workspace.dates import iso, parse_date
from ..workspace.store import Workspace, WorkspaceError
from .sentiment import NEGATIVE, POSITIVE
from .series import DAY, Scope, day_of
from .topics import MIN_MESSAGES, community_fit, fit_times, quotes_for, scope_ids

BOOTSTRAP = 300  # resamples of the players in each period
ALPHA = 0.05  # family-wise, over the topics (Holm)
CHANGE_LAG_DAYS = 7  # a dated change at most this long before the shift is named as its likely cause
CHANGE_AFTER_DAYS = 2  # or at most this long after the day found (the change point's own uncertainty)
TOP = 3  # drivers described in full (change point, change, quotes)
NO_TOPIC = -1


def _bound(ws: Workspace, value: Any, end: bool) -> float | None:
    """A date, or a named period (last-week ...) whose start (or end) it means."""
    if value is None:
        return None
    if isinstance(value, str) and value in ("last-week", "last-month", "last-patch", "all"):
        since, until, _ = ws.period(value)
        return until if end else since
    try:
        return parse_date(value)
    except ValueError as exc:
        raise WorkspaceError(str(exc)) from None


def periods(ws: Workspace, params: dict[str, Any], cond: str, args: list[Any]) -> tuple[float, float, float, float]:
    """(since, until, versus-since, versus-until): the period in scope (by default the last week of the
    scoped messages) and the one it is compared with (by default the same length just before it)."""
    context = params.get("context") if isinstance(params.get("context"), str) else None
    since = _bound(ws, params.get("since", context), end=False)
    until = _bound(ws, params.get("until", context), end=True)
    first, last = ws.db.execute(f"SELECT min(time), max(time) FROM messages WHERE {cond}", args).fetchone()
    if last is None:
        raise WorkspaceError("drivers: no dated messages in scope")
    until = until if until is not None else last + 1
    if context == "all" and params.get("since") is None:  # all of it: the level only, nothing before to compare
        since = first
    since = since if since is not None else until - 7 * DAY
    versus = params.get("versus")
    if isinstance(versus, (list, tuple)) and len(versus) == 2:
        vs, vu = _bound(ws, versus[0], False), _bound(ws, versus[1], True)
    elif isinstance(versus, str) and versus not in ("previous", "time-range"):
        vs, vu = _bound(ws, versus, False), since
    else:
        vs, vu = _bound(ws, params.get("versus-since"), False), _bound(ws, params.get("versus-until"), True)
    vu = vu if vu is not None else since
    vs = vs if vs is not None else vu - (until - since)
    if not (vs < vu <= since < until):
        raise WorkspaceError(f"drivers: the compared period ({iso(vs)} to {iso(vu)}) must end before the period in"
                             f" scope ({iso(since)} to {iso(until)}) begins")
    return since, until, vs, vu


def _net(scores: np.ndarray) -> np.ndarray:
    """+1 positive, -1 negative, 0 neutral."""
    return (scores > POSITIVE).astype(float) - (scores < NEGATIVE)


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else 0.0


def _parts(topic: np.ndarray, net: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    """Each topic's part of the period's net sentiment: its share of messages times its net sentiment
    (weights w per message; the parts add up to the period's mean net sentiment)."""
    return np.bincount(topic + 1, weights=w * net, minlength=k + 1) / max(w.sum(), 1e-12)


def _bootstrap(topic: np.ndarray, net: np.ndarray, clusters: np.ndarray, k: int, rng: np.random.Generator,
               scored: np.ndarray | None = None) -> np.ndarray:
    """BOOTSTRAP resamples of the topic parts, resampling players (clusters) with replacement (messages
    without a sentiment weigh nothing)."""
    if len(topic) == 0:
        return np.zeros((BOOTSTRAP, k + 1))
    _, cl = np.unique(clusters, return_inverse=True)
    m = int(cl.max()) + 1
    out = np.empty((BOOTSTRAP, k + 1))
    for b in range(BOOTSTRAP):
        counts = np.bincount(rng.integers(0, m, m), minlength=m).astype(float)
        out[b] = _parts(topic, net, counts[cl] * (1.0 if scored is None else scored), k)
    return out


CHANGE_ALPHA = 0.05  # a "since" date is claimed only when the rise passes a test at this false-alarm rate
PERMUTATIONS = 999


def _rise(x: np.ndarray, min_size: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """For each row of daily counts x: the largest least-squares gain of one break where the later mean is
    higher (the l2 cost ruptures' binary segmentation minimises, restricted to rises), and its cut."""
    n = x.shape[1]
    k = np.arange(min_size, n - min_size + 1)
    s = np.cumsum(x, axis=1)
    left, right = s[:, k - 1] / k, (s[:, -1:] - s[:, k - 1]) / (n - k)
    gain = k * (n - k) / n * np.clip(right - left, 0, None) ** 2
    return gain.max(axis=1), k[gain.argmax(axis=1)]


def change_point_test(times: np.ndarray, negative: np.ndarray, start: float, end: float,
                      seed: int = 0) -> tuple[float | None, float | None]:
    """(the day a topic's daily negative messages rose most clearly, its permutation p-value): the best single
    break by least squares among rises, tested against the same days in random order (under a constant
    rate every order is as likely). Days are 24 hours from the period's start (whole, so each is a fair draw
    under the null); (None, None) when the series is too short or has no rise."""
    days = int(np.ceil((end - start) / DAY))
    if days < 6 or negative.sum() < 3:
        return None, None
    idx = np.clip(((times - start) // DAY).astype(int), 0, days - 1)
    series = np.bincount(idx, weights=negative, minlength=days)[None]
    stat, cut = _rise(series)
    if stat[0] <= 0:
        return None, None
    shuffled = np.random.default_rng(seed).permuted(np.repeat(series, PERMUTATIONS, axis=0), axis=1)
    null, _ = _rise(shuffled)
    p = (1 + int((null >= stat[0] - 1e-12).sum())) / (PERMUTATIONS + 1)
    return start + int(cut[0]) * DAY, p


def change_point(times: np.ndarray, negative: np.ndarray, start: float, end: float,
                 alpha: float = CHANGE_ALPHA) -> float | None:
    """The day complaints rose, only when the rise passes the permutation test at `alpha`; else None
    (no clear start)."""
    when, p = change_point_test(times, negative, start, end)
    return when if p is not None and p < alpha else None


def nearest_change(ws: Workspace, when: float) -> dict[str, Any] | None:
    """The latest dated change from CHANGE_LAG_DAYS before `when` to CHANGE_AFTER_DAYS after it (a change
    point on noisy daily counts is sure to a day or two), with how many calendar days before the shift it
    came (0: the same day; negative: after the day found)."""
    row = ws.db.execute("SELECT time, title FROM changes WHERE time IS NOT NULL AND time < ? AND time >= ?"
                        " ORDER BY time DESC LIMIT 1",
                        [when + (CHANGE_AFTER_DAYS + 1) * DAY, when - CHANGE_LAG_DAYS * DAY]).fetchone()
    if row is None:
        return None
    return {"title": row[1], "time": day_of(row[0]), "days_before": int(np.floor(when / DAY) - np.floor(row[0] / DAY))}


def complaints_growth(after: int, days_after: float, before: int | None, days_before: float) -> float:
    """Negative messages a day in the period minus in the one before (None: nothing to compare with)."""
    return round(after / days_after - (before / days_before if before is not None else 0.0), 3)


ROW_COLUMNS = ("topic", "messages", "negative", "part_of_change", "beyond_chance", "complaints_rose_on",
               "dated_change_before")


def _row(r: dict[str, Any], level: bool) -> dict[str, Any]:
    """A driver as one row of the answer's table: before -> after, its part of the change, whether that part
    is beyond chance (Holm over the topics: one verdict, not an unadjusted interval beside an adjusted p),
    the day its complaints rose (when a test dates it) and the dated change just before that day."""
    def share(side: dict[str, Any]) -> str:
        return "–" if side["negative_share"] is None else f"{side['negative_share']:.0%}"  # no messages: no share
    b, a = r["before"], r["after"]
    return {"topic": r["label"], "messages": str(a["messages"]) if level else f"{b['messages']} → {a['messages']}",
            "negative": share(a) if level else f"{share(b)} → {share(a)}", "part_of_change": f"{r['contribution']:+.3f}",
            "beyond_chance": "yes" if r["significant"] else "no",
            "complaints_rose_on": r.get("since") or ("" if level or "since_p" not in r else "no clear start"),
            "dated_change_before": (r.get("change") or {}).get("title", "")}


def _side(n: int, neg: int, net: float, days: float, scored: int | None = None) -> dict[str, Any]:
    """A topic in one period: its messages (a day), its negative ones, and its negative share and net sentiment
    over the messages that have a sentiment (a language no model scores has none: it is not counted as
    neutral, which would read a topic of unscored messages as "0% negative")."""
    scored = n if scored is None else scored
    return {"messages": n, "per_day": round(n / max(days, 1e-9), 3), "negative": neg, "scored": scored,
            "negative_share": round(neg / scored, 4) if scored else None,
            "net_sentiment": round(net, 4) if scored else None}


def drivers(ws: Workspace, params: dict[str, Any]) -> dict[str, Any]:
    """The topics that moved the community's net sentiment between the compared period and the one in scope."""
    scope = Scope.of({**params, "since": None, "until": None})
    cond, args = Scope(scope.source).where()  # the default period ends with the community's last message
    since, until, vs, vu = periods(ws, params, cond, args)
    after = scope_ids(ws, Scope(scope.source, since, until, scope.filters), dated=True)
    before = scope_ids(ws, Scope(scope.source, vs, vu, scope.filters), dated=True)
    ids = np.union1d(after, before)
    community = ids if not scope.filters else np.union1d(
        scope_ids(ws, Scope(scope.source, since, until), dated=True), scope_ids(ws, Scope(scope.source, vs, vu), dated=True))
    where = {"scope": {**scope.describe(), "since": iso(since), "until": iso(until)},
             "versus": {"since": iso(vs), "until": iso(vu)}}
    if len(after) < MIN_MESSAGES:
        return {"answer": f"too few messages in the period ({len(after)}) to find drivers; need at least"
                          f" {MIN_MESSAGES}", "evidence": {**where, "messages": {"after": len(after),
                                                                                   "before": len(before)}}}
    fit, how, fit_on = community_fit(ws, scope.source, community)
    pos = fit.positions(ids)
    topic, net = fit.assigned[pos].astype(int), _net(fit.sentiment[pos])
    scored = ~np.isnan(fit.sentiment[pos])  # a message in a language no model scores has no sentiment
    rows = ws.rows_in("SELECT id, time, coalesce(author, 'message:' || id) FROM messages WHERE id IN ({marks})",
                      ids.tolist())
    rows.sort()
    times = np.array([r[1] for r in rows], float)
    authors = np.array([r[2] for r in rows], object)
    late = times >= since
    k = len(fit.topics)
    level = len(before) == 0  # nothing to compare with: each topic's part of the period's own sentiment
    a = _parts(topic[late], net[late], scored[late].astype(float), k)
    b = np.zeros(k + 1) if level else _parts(topic[~late], net[~late], scored[~late].astype(float), k)
    rng = np.random.default_rng(0)
    boot = _bootstrap(topic[late], net[late], authors[late], k, rng, scored[late])
    if not level:
        boot = boot - _bootstrap(topic[~late], net[~late], authors[~late], k, rng, scored[~late])
    contribution = a - b
    se = boot.std(axis=0, ddof=1)
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests
    z = np.divide(contribution, se, out=np.zeros_like(se), where=se > 0)
    p_adj = multipletests(2 * norm.sf(np.abs(z)), method="holm")[1]  # as compare.py does
    days_a, days_b = (until - since) / DAY, (vu - vs) / DAY
    neg = net < 0
    table = []
    for t in range(-1, k):
        ia, ib = late & (topic == t), ~late & (topic == t)
        info = fit.topics[t] if t >= 0 else {"label": "(no topic)", "terms": []}
        na, nb = int(ia.sum()), int(ib.sum())
        table.append({"topic": t, "label": info["label"], "terms": info["terms"][:6],
                      "before": _side(nb, int(neg[ib].sum()), _mean(net[ib & scored]), days_b, int((ib & scored).sum())),
                      "after": _side(na, int(neg[ia].sum()), _mean(net[ia & scored]), days_a, int((ia & scored).sum())),
                      "contribution": round(float(contribution[t + 1]), 4),
                      # 95% for this topic on its own; "significant" is Holm over all the topics, so an
                      # interval clear of zero can sit beside a part that is not beyond chance
                      "interval": [round(float(contribution[t + 1] - 1.96 * se[t + 1]), 4),
                                   round(float(contribution[t + 1] + 1.96 * se[t + 1]), 4)],
                      "p_adjusted": round(float(p_adj[t + 1]), 4), "significant": bool(p_adj[t + 1] < ALPHA),
                      "complaints_growth_per_day": complaints_growth(int(neg[ia].sum()), days_a,
                                                                     None if level else int(neg[ib].sum()), days_b)})
    ranked = sorted((r for r in table if r["topic"] != NO_TOPIC), key=lambda r: r["contribution"])
    down = [r for r in ranked if r["contribution"] < 0]
    up = [r for r in reversed(ranked) if r["contribution"] > 0]
    for r in down[:TOP] + up[:TOP]:
        members = np.where(topic == r["topic"])[0]
        r["since"] = None
        r["change"] = None
        if not level:
            cp, p_cp = change_point_test(times[members], neg[members].astype(float), vs, until)
            r["since_p"] = None if p_cp is None else round(p_cp, 4)
            if cp is not None and p_cp < CHANGE_ALPHA:  # a date (and a patch) only for a rise beyond chance
                # the calendar day holding most of the first 24 hours after the break: a period that starts at a
                # patch's 18:00 cuts its days there, and "since 03-10" read as 03-10 for a rise from 03-11
                r["since"] = day_of(cp + DAY / 2)
                r["change"] = nearest_change(ws, cp + DAY / 2)
        mood = members[late[members] & (neg[members] if r["contribution"] < 0 else net[members] > 0)]
        r["quotes"] = quotes_for(ws, fit, pos[mood] if len(mood) else pos[members[late[members]]])
    upset = most_upset(ws, fit, table, topic, late, neg, pos, until)
    complaints = sorted((r for r in table if r["topic"] != NO_TOPIC), key=lambda r: -r["complaints_growth_per_day"])
    community = {"before": None if level else round(_mean(net[~late & scored]), 4),
                 "after": round(_mean(net[late & scored]), 4)}
    return {"answer": _level_sentence(upset) + " " + (_sentence(down, up, community, level, upset) if not level else
                                                        f"Net sentiment {community['after']:+.2f}."),
            "rows": [_row(r, level) for r in down[:TOP * 2] + up[:TOP]], "columns": list(ROW_COLUMNS),
            "evidence": {**where, "messages": {"after": int(late.sum()), "before": int((~late).sum())},
                         "ranked_by": "each topic's part of the change in net sentiment (positive minus negative"
                                      " share; the parts add up to the change); intervals and Holm-adjusted p from a"
                                      f" bootstrap over players ({BOOTSTRAP} resamples); a part is beyond chance when"
                                      f" its Holm-adjusted p over the {k + 1} topics is under {ALPHA}; each interval is"
                                      " 95% for its topic alone, not adjusted" if not level else
                                      "each topic's part of the period's net sentiment (no messages before it to"
                                      " compare with)",
                         "net_sentiment": community,
                         "most_upset": upset,
                         "drivers": down[:TOP * 2], "lifting": up[:TOP * 2],
                         "complaints": [{"label": r["label"], "growth_per_day": r["complaints_growth_per_day"]}
                                        for r in complaints[:5]],
                         "table": table, "topics_fit": {**fit.info, "how": how, "topics_of": fit_on}},
            "model": f"topic parts of net sentiment (topics: BERTopic, fit on {fit.info['fit_on']:,} messages);"
                     f" change points: one least-squares break in daily complaints, dated only when a permutation"
                     f" test ({PERMUTATIONS} orders) passes at {CHANGE_ALPHA:.0%} false alarms per topic"}


def most_upset(ws: Workspace, fit: Any, table: list[dict[str, Any]], topic: np.ndarray, late: np.ndarray,
               neg: np.ndarray, pos: np.ndarray, until: float) -> list[dict[str, Any]]:
    """The level: the TOP topics with the most negative messages in the period in scope, each with its share
    of the topic, quotes of its complaints, and whether its complaints rose at a dated point since the fit's
    data begin (the same permutation test as the change's "since", over the whole history)."""
    ranked = sorted((r for r in table if r["topic"] != NO_TOPIC and r["after"]["negative"] > 0),
                    key=lambda r: (-r["after"]["negative"], r["topic"]))[:TOP]
    if not ranked:
        return []
    every = fit_times(ws, fit)
    hist_pos = np.flatnonzero(every < until)  # NaN (undated) compares false
    hist_topic = fit.assigned[hist_pos]
    hist_neg = _net(fit.sentiment[hist_pos]) < 0
    hist_times = every[hist_pos]
    start = float(hist_times.min()) if len(hist_times) else until
    out = []
    for r in ranked:
        t = r["topic"]
        mine = hist_topic == t
        when, p = change_point_test(hist_times[mine], hist_neg[mine].astype(float), start, until)
        members = np.where((topic == t) & late & neg)[0]
        out.append({"topic": t, "label": r["label"], "negative": r["after"]["negative"],
                    "messages": r["after"]["messages"], "negative_share": r["after"]["negative_share"],
                    "history_since": day_of(start),
                    "rose_on": day_of(when + DAY / 2) if when is not None and p < CHANGE_ALPHA else None,
                    "rise_p": None if p is None else round(p, 4),
                    "quotes": quotes_for(ws, fit, pos[members])})
    return out


def _level_sentence(upset: list[dict[str, Any]]) -> str:
    """The level in one sentence: the biggest complaint of the period, its size, and since when."""
    if not upset:
        return "No topic had negative messages in the period."
    u = upset[0]
    text = (f"Most upset about {u['label']}: {u['negative']} negative message{'s' if u['negative'] != 1 else ''},"
            f" {u['negative_share']:.0%} of the topic's {u['messages']}")
    if u["rose_on"]:
        text += f", rising since {u['rose_on']}"
    elif u["rise_p"] is not None:
        text += f", with no significant rise since the data begin ({u['history_since']})"
    if len(upset) > 1:
        text += "; then " + ", ".join(f"{v['label']} ({v['negative']} negative)" for v in upset[1:])
    return text + "."


def _sentence(down: list[dict[str, Any]], up: list[dict[str, Any]], community: dict[str, Any], level: bool,
              upset: list[dict[str, Any]] | None = None) -> str:
    """What changed, in one sentence: the topic that pulled sentiment down most, how, since when, after what."""
    if not down:
        return "What changed: no topic pulled sentiment down" + (
            f"; the largest lift came from {up[0]['label']}" if up else "") + "."
    d = down[0]
    a, b = d["after"], d["before"]
    same = bool(upset) and upset[0]["topic"] == d["topic"]
    lead = ("What changed most: the same topic" if same else "What changed most:") if d["significant"] or level else \
        (f"What changed: no topic pulled net sentiment ({community['before']:+.2f} to {community['after']:+.2f}) down"
         " beyond what chance gives; the largest fall in net sentiment:")
    text = f"{lead} {d['label']}: {a['messages']} messages"
    if level:
        text += f", {a['negative_share']:.0%} negative (net sentiment {a['net_sentiment']:+.2f})"
        return text + "."
    if b["messages"]:
        text += f", {'up' if a['per_day'] >= b['per_day'] else 'down'} from {b['messages']}"
        if abs(a["messages"] / a["per_day"] - b["messages"] / b["per_day"]) > 0.5:  # periods of other lengths
            text += f" ({a['per_day']:.1f} vs {b['per_day']:.1f} a day)"
        an, bn = a["negative_share"] or 0.0, b["negative_share"] or 0.0  # None: no messages on that side
        text += f"; {an:.0%} negative, as before" if f"{an:.0%}" == f"{bn:.0%}" else f"; {an:.0%} negative vs {bn:.0%}"
        if an < bn:  # its fall is fewer positive messages, not more complaints
            text += " (its complaints fell: the fall is fewer positive messages)"
    else:
        text += f", none before; {a['negative_share']:.0%} negative"
    if not d.get("since") and "since_p" in d:
        text += "; no clear start"
    if d.get("since"):
        text += f"; since {d['since']}"
        if d.get("change"):
            c = d["change"]
            lag = c["days_before"]
            days = f"{abs(lag)} day{'s' if abs(lag) > 1 else ''}"
            text += (f", the day of {c['title']}" if lag == 0 else
                     f", {days} {'after' if lag > 0 else 'before'} {c['title']} ({c['time']})")
    if d["significant"]:
        text += f". Net sentiment {community['before']:+.2f} to {community['after']:+.2f}"
    return text + "."
