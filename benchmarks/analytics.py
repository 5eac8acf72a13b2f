"""Analytics quality and speed: topic coherence (gensim c_npmi, c_v), diversity, outliers and labels
on four corpora against the targets; drivers on the six review-bombing incidents and after each of the
simulator's patches (against its truth); anomalies around the Warframe hotfixes; sentiment accuracy (the workspace's own labels; the
packaged model's held-out figures are in the sentiment benchmark); and wall time of each
analytic on 1e4 and 1e5 messages, topics' first answer (a fresh process) and its repeat."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pilang_engine.analytics import reports
from pilang_engine.analytics.drivers import drivers
from pilang_engine.analytics.hodge import hodge
from pilang_engine.analytics.patterns import patterns
from pilang_engine.analytics.sentiment import model_for
from pilang_engine.analytics.topics import topics
from pilang_engine.data.datasets import DatasetMissing, dataset
from pilang_engine.data.simulate import REACTION_DAYS, written_theme
from pilang_engine.ingestion.pipeline import ingest
from pilang_engine.workspace.store import Workspace

from .common import simulated

HOTFIXES = {"Hotfix 38.0.6": "2025-01-09", "Hotfix 38.0.7": "2025-01-14"}


def _balanced(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(y, pred))


TOPIC_TARGETS = {"c_npmi": 0.05, "diversity": 0.8, "outliers": 0.2}
# what each review-bombing incident was about: the words a driver naming its cause would use
INCIDENT_CAUSES = {
    "Skyrim - Paid Mods": ("paid", "mods", "mod", "pay", "valve", "workshop"),
    "Borderlands - Epic Store": ("epic", "exclusive", "store", "launcher"),
    "Firewatch": ("pewdiepie", "dmca", "takedown", "streamer", "youtube", "vanaman", "copyright"),
    "Mortal Kombat 11": ("grind", "microtransactions", "microtransaction", "krypt", "grindy", "towers"),
    "Assassin's Creed Unity": ("free", "fire", "notre", "dame", "giveaway", "gift", "cathedral"),
    "Ukraine-Russia-Support": ("war", "ukraine", "russia", "russian", "politics", "political", "statement"),
}
PATCH_WORDS = {"nerf": ("nerf", "rifle", "damage", "sniper", "weapon"), "difficulty": ("difficulty", "hard", "brutal",
               "nightmare"), "droprate": ("drop", "drops", "rates", "loot", "rare"), "cosmetics": ("skins", "fashion",
               "cosmetic", "outfit"), "onboarding": ("tutorial", "login", "guide", "beginner", "starter")}


TABLE: list[dict] = []  # one row per set (and per modelled language): the topic table printed at the end


def topic_quality(name: str, ws: Workspace, params: dict, truth_of: Callable[[str], str | None] | None = None) -> None:
    """Topics on one corpus: count, outliers, coherence, diversity, labels; first answer and repeat; its rows
    (overall, and each modelled language's topics over that language's messages) join TABLE."""
    t0 = time.perf_counter()
    out = topics(ws, params)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    topics(ws, params)
    repeat = time.perf_counter() - t0
    ev = out["evidence"]
    co = ev["coherence"]
    met = [co["c_npmi"] >= TOPIC_TARGETS["c_npmi"], co["diversity"] >= TOPIC_TARGETS["diversity"],
           ev["unassigned_share"] <= TOPIC_TARGETS["outliers"]]
    print(f"topics, {name} ({ev['messages']:,} messages): {len(ev['topics'])} topics, outliers"
          f" {ev['unassigned_share']:.1%}, c_npmi {co['c_npmi']:+.3f}, c_v {co['c_v']:.3f}, diversity"
          f" {co['diversity']:.3f} (in-sample); targets c_npmi >= +0.05, diversity >= 0.8, outliers <= 20%:"
          f" {sum(met)}/3 met; first {first:.1f} s, repeat {repeat:.2f} s")
    print("    " + "; ".join(f"{t['label']} ({t['size']})" for t in ev["topics"][:8]))
    modelled = ev["fit"].get("languages_modelled", {})
    if truth_of is not None:
        written_against(ws, params, truth_of, len(ev["topics"]))
    TABLE.append({"set": name, "language": "all", "topics": len(ev["topics"]), "outliers": ev["unassigned_share"],
                  "c_npmi": co["c_npmi"], "c_v": co["c_v"], "diversity": co["diversity"],
                  "languages": ", ".join(modelled) or "-", "labels": "; ".join(t["label"] for t in ev["topics"][:3])})
    if len(modelled) > 1:
        from pilang_engine.analytics.series import Scope
        from pilang_engine.analytics.topics import community_fit, scope_coherence, scope_ids
        ids = scope_ids(ws, Scope.of(params))
        fit, _, _ = community_fit(ws, params.get("source"), ids)
        assigned = fit.assigned[fit.positions(ids)]
        for lang in modelled:
            tids = [t for t, topic in enumerate(fit.topics) if topic["language"] == lang and (assigned == t).any()]
            mine = ids[np.isin(assigned, tids)]
            if len(tids) < 2:
                continue
            c = scope_coherence(ws, fit, mine, tids)
            TABLE.append({"set": name, "language": lang, "topics": len(tids), "outliers": None, "c_npmi": c["c_npmi"],
                          "c_v": c["c_v"], "diversity": c["diversity"], "languages": lang,
                          "labels": "; ".join(fit.topics[t]["label"] for t in tids[:3])})


def written_against(ws: Workspace, params: dict, truth_of: Callable[[str], str | None], found: int) -> None:
    """Topics against the themes the simulator wrote (`truth_of(text)`): how many there are, and whether each
    topic keeps to one theme (homogeneity) and each theme to one topic (completeness; 1.0: never split)."""
    from pilang_engine.analytics.series import Scope
    from pilang_engine.analytics.topics import community_fit, scope_ids
    from sklearn.metrics import homogeneity_completeness_v_measure
    ids = scope_ids(ws, Scope.of(params))
    fit, _, _ = community_fit(ws, params.get("source"), ids)
    texts = dict(ws.rows_in("SELECT id, text FROM messages WHERE id IN ({marks})", ids.tolist()))
    themes = [truth_of(texts[i]) for i in ids.tolist()]
    known = np.array([t is not None for t in themes])
    written = sorted({t for t in themes if t})
    h, c, _ = homogeneity_completeness_v_measure([t for t in themes if t], fit.assigned[fit.positions(ids)][known])
    patches = sum(t.startswith("patch:") for t in written)
    print(f"    against what the simulator wrote ({known.mean():.0%} of messages traced): {len(written)} themes"
          f" ({len(written) - patches} subjects, {patches} patch reactions), {found} topics"
          f" ({found / len(written):.2f}x); homogeneity {h:.3f} (a topic keeps to one theme), completeness {c:.3f}"
          " (a theme stays in one topic)")


def topic_table() -> None:
    """Every set's topics in one table, beside the targets."""
    print("\n| set | language | topics | outliers | c_npmi | c_v | diversity | targets met | labels |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in TABLE:
        met = [r["c_npmi"] >= TOPIC_TARGETS["c_npmi"], r["diversity"] >= TOPIC_TARGETS["diversity"]]
        if r["outliers"] is not None:
            met.append(r["outliers"] <= TOPIC_TARGETS["outliers"])
        out = "-" if r["outliers"] is None else f"{r['outliers']:.1%}"
        print(f"| {r['set']} | {r['language']} | {r['topics']} | {out} | {r['c_npmi']:+.3f} | {r['c_v']:.3f} |"
              f" {r['diversity']:.3f} | {sum(met)}/{len(met)} | {r['labels']} |")
    print("targets: c_npmi >= +0.05, diversity >= 0.8, outliers <= 20% (in-sample: the scoped messages the topics"
          " describe; per-language rows: that language's topics over its messages)")


def identity_over_time(name: str, reviews: Path, tmp: Path) -> None:
    """A real set split by time into 4 growing slices, the topics refit after each: the share of each refit's
    topics that go on under an id of the refit before (lineage.py), and the births, merges and splits."""
    from pilang_engine.api import ingest as ingest_all
    from pilang_engine.api import topics_history
    raw = json.loads(reviews.read_text())
    items = sorted(raw["reviews"].items(), key=lambda kv: kv[1]["timestamp_created"])
    ws = Workspace(tmp / "identity")
    seen = []
    for q in range(1, 5):
        part = dict(items[(q - 1) * len(items) // 4: q * len(items) // 4])
        path = tmp / f"slice-{q}.json"
        path.write_text(json.dumps({**raw, "reviews": part}))
        ingest_all(ws, [path], progress=False)
        seen.append({t["id"] for t in topics(ws, {})["evidence"]["topics"]})
    kept = [len(a & b) / len(b) for a, b in zip(seen, seen[1:])]
    events = topics_history(ws, None)["evidence"]["events"]
    kinds = {k: sum(e["kind"] == k for e in events) for k in ("birth", "split", "merge", "death", "relabel")}
    print(f"topic identity, {name} in 4 growing slices by time: topics per refit {[len(s) for s in seen]}; share of"
          f" each refit's topics that keep an earlier id {', '.join(f'{k:.0%}' for k in kept)}; events {kinds}")


def watch_grown(tmp: Path, name: str, slice_at: Callable[[str, str, Path], Path], start: str, days: int,
                events: dict[str, str], window: int, first_day: int = 5) -> tuple[Workspace, dict]:
    """A community grown a day at a time, as a daily watcher sees it (its first fit on the first `first_day`
    days; `slice_at(since, until, folder)` writes the messages of days [since, until)), asked each day for
    new complaints (connectors/watch.py). `events` (name: day) are the known changes: an alert on a look
    within `window` days after one may be explained by it; every other is a false alarm."""
    from pilang_engine.api import ingest as ingest_all
    from pilang_engine.connectors.watch import NEW_COMPLAINT_FALSE_ALARMS, new_complaints
    ws = Workspace(tmp / name)
    day0 = np.datetime64(start)
    cuts = [str(day0 + np.timedelta64(d, "D")) for d in range(first_day, days + 1)]
    prev, looks, alerts = start, 0, []
    t0 = time.perf_counter()
    for cut in cuts:
        ingest_all(ws, [slice_at(prev, cut, tmp / f"{name}-{cut}")], progress=False)
        if prev != start:
            looks += 1
            alerts += [{**a, "look": prev} for a in new_complaints(ws, prev)]
        topics(ws, {})
        prev = cut
    after = [np.datetime64(d) for d in events.values()]
    explained = [a for a in alerts if any(0 <= (np.datetime64(a["look"]) - d).astype(int) <= window for d in after)]
    false = len(alerts) - len(explained)
    out = {"looks": looks, "alerts": len(alerts), "explained": len(explained), "false": false,
           "rate": false / max(looks, 1), "seconds": time.perf_counter() - t0}
    print(f"watcher, {name} grown a day at a time ({looks} looks, {out['seconds']:.0f} s): new-complaint alerts"
          f" {len(alerts)}, {len(explained)} on a look within {window} days after a known change, {false} not:"
          f" {false / max(looks, 1):.1%} false alarms per look (stated: at most {NEW_COMPLAINT_FALSE_ALARMS:.0%})")
    for a in alerts:
        print(f"    {a['look']}: {a['text'][:150]}")
    return ws, out


def _discord_texts_shuffled(src: Path, out: Path, seed: int = 0) -> Path:
    """The demo's discord with its texts shuffled among all its messages: times, authors and channels kept,
    any tie between what is said and when cut (no topic can grow; every alert on it is false)."""
    out.mkdir(parents=True, exist_ok=True)
    files = {f.name: json.loads(f.read_text()) for f in sorted(src.glob("*.json"))}
    texts = [m["content"] for d in files.values() for m in d["messages"]]
    random.Random(seed).shuffle(texts)
    it = iter(texts)
    for fname, d in files.items():
        for m in d["messages"]:
            m["content"] = next(it)
        (out / fname).write_text(json.dumps(d))
    return out


def simulated_births(tmp: Path, truth: dict) -> None:
    """The demo's discord grown a day at a time: is each patch's theme born within 2 days of it, and how many
    new-complaint alerts follow no patch; then the same with its texts shuffled in time (a true null: every
    alert false), against the stated false-alarm rate."""
    from pilang_engine.api import topics_history
    from pilang_engine.data.simulate import discord_between
    src = Path(__file__).resolve().parent.parent / "examples" / "demo" / "discord"
    start = np.datetime64(truth["start"][:10])
    patches = {p["title"]: str(start + np.timedelta64(p["day"], "D")) for p in truth["patches"]}
    ws, _ = watch_grown(tmp, "the simulator", lambda a, b, out: discord_between(src, out, a, b), str(start),
                        truth["days"], patches, REACTION_DAYS)  # players write about a patch for this long
    births = [e for e in topics_history(ws, None)["evidence"]["events"] if e["kind"] in ("birth", "split")]
    on_time = 0
    for patch in truth["patches"]:
        day = np.datetime64(patches[patch["title"]])
        words = PATCH_WORDS.get(patch["kind"], ())
        mine = [e for e in births if any(w in e["label"] for w in words)]
        first = min((e["date"] for e in mine), default=None)
        ok = first is not None and 0 <= (np.datetime64(first) - day).astype(int) <= 2
        on_time += ok
        print(f"    {patch['title']} ({day}, {patch['kind']}): theme born {first or '-'}"
              f" ({'within 2 days' if ok else 'not within 2 days' if first else 'no birth (seen in the first fit or not separated)'})")
    print(f"    patch themes born (or split off an older topic) within 2 days: {on_time}/{len(truth['patches'])}")
    shuffled = _discord_texts_shuffled(src, tmp / "shuffled-discord")
    watch_grown(tmp, "the simulator, texts shuffled in time (a null)",
                lambda a, b, out: discord_between(shuffled, out, a, b), str(start), truth["days"], {}, 0)


def warframe_watch(tmp: Path, reviews: Path) -> None:
    """Warframe's reviews grown a day at a time (real data split by time); its two hotfixes are the known changes."""
    raw = json.loads(reviews.read_text())
    days = sorted(np.datetime64(int(r["timestamp_created"]), "s").astype("datetime64[D]") for r in raw["reviews"].values())

    def slice_at(a: str, b: str, out: Path) -> Path:
        part = {k: r for k, r in raw["reviews"].items()
                if a <= str(np.datetime64(int(r["timestamp_created"]), "s").astype("datetime64[D]")) < b}
        out.mkdir(parents=True, exist_ok=True)
        (out / "reviews.json").write_text(json.dumps({**raw, "reviews": part}))
        return out / "reviews.json"
    watch_grown(tmp, "Warframe reviews", slice_at, str(days[0]), int((days[-1] - days[0]).astype(int)) + 1, HOTFIXES,
                7)  # a week after a hotfix: what a reader would credit to it


def _names(driver: dict, words: tuple[str, ...]) -> bool:
    """Whether a driver's label, terms or quotes use one of the words."""
    text = " ".join([driver["label"], *(t["term"] for t in driver["terms"]),
                     *(q["text"] for q in driver.get("quotes", []))]).lower()
    return any(w in text.split() or w in driver["label"] for w in words)


def incidents(ws: Workspace) -> None:
    """Drivers within each review-bombing incident (its reviews only): is the cause among the top three?"""
    projects = [r[0] for r in ws.db.execute("SELECT DISTINCT json_extract(meta, '$.project') FROM messages"
                                            " ORDER BY 1")]
    hits = 0
    for project in projects:
        lo, hi = ws.db.execute("SELECT min(time), max(time) FROM messages WHERE json_extract(meta, '$.project') = ?",
                               [project]).fetchone()
        positive = ws.db.execute("SELECT count(*) FROM messages WHERE json_extract(meta, '$.project') = ? AND"
                                 " json_extract(meta, '$.review_bomb_type') = 'positiv'", [project]).fetchone()[0] > 0
        ev = drivers(ws, {"filters": {"project": project}, "since": lo, "until": hi + 1})["evidence"]
        top = (ev["lifting"] if positive else ev["drivers"])[:3]
        words = INCIDENT_CAUSES.get(project, ())

        found = any(_names(d, words) for d in top)
        hits += found
        print(f"    {project} ({'positive' if positive else 'negative'} bomb): "
              + "; ".join(d["label"] for d in top) + f" -> cause among them: {'yes' if found else 'no'}")
    print(f"drivers, review-bombing incidents: the cause among the top three drivers in {hits}/{len(projects)}")


def simulated_patches(ws: Workspace, truth: dict) -> None:
    """Drivers in the week after each simulated patch against the week before, against the truth."""
    hits = 0
    for patch in truth["patches"]:
        row = ws.db.execute("SELECT time FROM changes WHERE title = ?", [patch["title"]]).fetchone()
        out = drivers(ws, {"since": row[0], "until": row[0] + 7 * 86400})
        ev = out["evidence"]
        worst = min(patch["effects"], key=patch["effects"].get)
        downward = patch["effects"][worst] <= -0.5
        side = ev["drivers"] if downward else ev["lifting"]
        top = side[0] if side else None
        words = PATCH_WORDS.get(patch["kind"], ())
        text = (top["label"] + " " + " ".join(t["term"] for t in top["terms"])) if top else ""
        ok = bool(top) and any(w in text for w in words)
        hits += ok
        when = f"since {top['since']}" if top and top.get("since") else "no change point"
        named = top.get("change", {}) or {} if top else {}
        print(f"    {patch['title']} (day {patch['day']}, {patch['kind']}, strongest effect {worst}"
              f" {patch['effects'][worst]:+.1f}): top {'falling' if downward else 'rising'} topic"
              f" {top['label'] if top else '-'} ({when}; change named: {named.get('title', '-')});"
              f" matches the patch: {'yes' if ok else 'no'}")
    print(f"drivers, simulator: the patch's theme is the top driver in {hits}/{len(truth['patches'])} weeks")


def warframe(ws: Workspace) -> None:
    topic_quality("Warframe reviews", ws, {"source": "steam"})
    found = reports.anomalies(ws, {"source": "steam", "since": "2024-12-23", "until": "2025-01-21"})
    flagged = {a["day"]: a["driver"] for a in found["evidence"]["anomalies"]}
    print(f"anomalies in the review window (5% false alarms per series): flagged {sorted(flagged)}")
    hits = 0
    for name, day in HOTFIXES.items():
        near = [d for d in flagged if abs((np.datetime64(d) - np.datetime64(day)).astype(int)) <= 1]
        hits += bool(near)
        print(f"    {name} ({day}): {'flagged ' + ', '.join(f'{d} ({flagged[d]})' for d in near) if near else 'not flagged'}"
              f" within one day")
    share = len(flagged) / found["evidence"]["days"]
    print(f"    hit rate around the dated changes {hits}/{len(HOTFIXES)}; by chance (a 3-day window holding one of"
          f" the {share:.0%} flagged days) {1 - (1 - share) ** 3:.2f}")
    model = model_for(ws)
    print(f"sentiment model: {model.describe()['model']}; on the workspace's own labels {model.score_}")


def cyberpunk(ws: Workspace) -> None:
    topic_quality("r/cyberpunkgame", ws, {"source": "reddit"})


def calibration(quick: bool) -> None:
    """The detector on simulated 90-day series (a weekly rhythm, wandering activity and mood, sampling
    noise): the share of series with no event that show any flagged day, and the share of injected
    one-day events of 4 robust SDs of the series itself flagged within a day."""
    from pilang_engine.analytics.anomalies import FALSE_ALARM, detect
    from pilang_engine.data.simulate import community_days
    rng = np.random.default_rng(0)
    n = 200 if quick else 2000
    null = [{f["series"] for f in detect(*community_days(rng))[0]} for _ in range(n)]
    rates = {s: float(np.mean([s in found for found in null])) for s in ("volume", "sentiment", "drift")}
    print(f"anomalies, {n} simulated 90-day series with no event (stated false-alarm rate {FALSE_ALARM:.0%} per series):"
          f" any flagged day in {', '.join(f'{s} {r:.1%}' for s, r in rates.items())} of series")
    for label, options, series in (("sentiment noise t(10)", {"tails": 10}, "sentiment"),
                                   ("sentiment noise t(5)", {"tails": 5}, "sentiment"),
                                   ("sentiment noise t(3)", {"tails": 3}, "sentiment"),
                                   ("negative binomial counts (dispersion 5)", {"dispersion": 5.0}, "volume"),
                                   ("negative binomial counts (dispersion 2)", {"dispersion": 2.0}, "volume")):
        hit = np.mean([bool(detect(*community_days(rng, **options), series=(series,))[0]) for _ in range(n // 2)])
        print(f"    heavier tails, {label}: any flagged {series} day in {hit:.1%} of {n // 2} null series")
    for series in ("volume", "sentiment"):
        for size in (4.0, 6.0):
            hits = []
            for _ in range(n // 4):
                day = int(rng.integers(5, 85))
                flags, _ = detect(*community_days(rng, event=(day, series, size)))
                hits.append(any(abs(f["index"] - day) <= 1 and f["series"] == series for f in flags))
            print(f"    {series} event of {size:g} robust SDs: flagged within a day in {np.mean(hits):.1%} of {len(hits)}"
                  + (" (target 90%)" if size == 4.0 else ""))


def timings(n: int) -> None:
    from .ingest import synthetic_export
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.json"
        synthetic_export(path, n)
        ws = Workspace(Path(tmp) / "ws")
        ingest(ws, [path], progress=False)
        print(f"wall time on {n:,} messages:", end="", flush=True)
        for name, fn in (("volume", reports.volume), ("sentiment", reports.sentiment), ("anomalies", reports.anomalies),
                         ("forecast", reports.forecast), ("patterns", patterns), ("hodge", hodge)):
            t0 = time.perf_counter()
            fn(ws, {})
            print(f" {name} {time.perf_counter() - t0:.2f}s", end="", flush=True)
        print()
        ws.close()
        # topics in a fresh process, as a script's first answer is (UMAP compiles its kernels once per process)
        code = ("import sys, time, json; from pilang_engine.workspace.store import Workspace;"
                " from pilang_engine.analytics.topics import topics; from pilang_engine.analytics.drivers import drivers;"
                " ws = Workspace(sys.argv[1]); t = []\n"
                "for f, p in ((topics, {}), (topics, {}), (drivers, {}), (topics, {'min-topic-size': 60})):\n"
                " t0 = time.perf_counter(); f(ws, p); t.append(time.perf_counter() - t0)\n"
                "print(json.dumps(t))")
        done = subprocess.run([sys.executable, "-c", code, str(Path(tmp) / "ws")], capture_output=True, text=True, check=False)
        if done.returncode:
            print(f"    topics: failed: {done.stderr.strip().splitlines()[-1:]}")
            return
        first, repeat, drive, again = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"    topics on {n:,} messages in a fresh process: first answer {first:.1f} s (target <= 30 s), repeat"
              f" {repeat:.2f} s (target <= 1 s); drivers of the last week from that fit {drive:.2f} s; another fit"
              f" in the same process (imports done, UMAP compiled) {again:.1f} s")


def run(quick: bool = False) -> None:
    calibration(quick)
    try:
        reviews = dataset("steam-reviews-warframe") / "review_230410.json"
        notes = dataset("patch-notes-warframe") / "patchlogs.json"
        posts = dataset("reddit-cyberpunkgame-posts") / "Posts.csv"
    except DatasetMissing as exc:
        print(f"skipped: {exc}")
        return
    if quick:
        timings(2_000)
        return
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "wf")
        ingest(ws, [reviews, notes], progress=False)
        warframe(ws)
        ws2 = Workspace(Path(tmp) / "cp")
        ingest(ws2, [posts], progress=False)
        cyberpunk(ws2)
        try:
            bombs = dataset("review-bombing-annotated") / "combined_final_annotation_all_projects.csv"
            ws3 = Workspace(Path(tmp) / "rb")
            ingest(ws3, [bombs], fmt="csv", mapping="text=review,time=review_date,id=id,source=steam", progress=False)
            topic_quality("review-bombing reviews", ws3, {})
            incidents(ws3)
        except DatasetMissing as exc:
            print(f"review bombing: skipped ({exc})")
        demo_ws, truth = simulated(Path(tmp), "topics-demo")
        topic_quality("the demo community (simulated)", demo_ws, {"source": "discord"}, written_theme)
        simulated_patches(demo_ws, truth)
        topic_table()
        identity_over_time("Warframe reviews", reviews, Path(tmp))
        simulated_births(Path(tmp), truth)
        warframe_watch(Path(tmp), reviews)
    random.seed(0)
    for n in (10_000, 100_000):
        timings(n)
