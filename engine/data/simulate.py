"""A community simulator with known ground truth: players drawn from latent personas post in
Discord channels, review the game, file tickets and play sessions, and react to dated patches with
known per-persona effects. It writes the demo data (real input formats) and truth.json."""
from __future__ import annotations

import csv
import json
import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

START = datetime(2025, 3, 1, tzinfo=timezone.utc)
DAYS = 60
DECAY_DAYS = 7.0  # a patch's effect on sentiment halves roughly every five days

# The patches, by day, with the kind of change each is (the personas react to the kind).
PATCHES = [
    (10, "Hotfix 1.0.4", "nerf", "Nerfed assault rifle damage by 15%.\nReduced critical multiplier of sniper rifles."),
    (22, "Update 1.1: Nightfall", "difficulty", "Increased enemy difficulty in endgame missions.\nNew Nightmare mode with tougher bosses."),
    (35, "Hotfix 1.1.2", "droprate", "Reduced rare mod drop rates from bosses.\nLoot tables rebalanced for the weekly vault."),
    (45, "Update 1.2: Runway", "cosmetics", "New cosmetic skins, capes and fashion sets in the market.\nAdded a photo mode."),
    (52, "Hotfix 1.2.1", "onboarding", "Fixed a login crash for new accounts.\nImproved the tutorial and the first quest."),
]


@dataclass
class Persona:
    name: str
    share: float
    rate: float  # messages per day
    playtime: tuple[int, int]  # hours, range
    channel: str
    reactions: dict[str, float]  # patch kind -> sentiment shift
    topics: list[str]
    praise: list[str]
    complaints: list[str]


PERSONAS = [
    Persona("competitive-players", 0.25, 0.55, (600, 2500), "competitive",
            {"nerf": -0.9, "difficulty": 0.5, "droprate": -0.1, "cosmetics": 0.0, "onboarding": 0.0},
            ["ranked", "the meta", "my build", "pvp duels", "matchmaking", "the leaderboard", "dps numbers",
             "assault rifle damage", "sniper crits", "tournament brackets"],
            ["{t} feels competitive and balanced", "loving {t} this season, skill finally matters",
             "{t} is in a great place, grinding ranked all night", "solid changes to {t}, top tier"],
            ["{t} is a mess, matchmaking keeps failing", "{t} is stale, same three builds every game",
             "lost ten ranked games in a row, {t} is rigged", "{t} is unbalanced and nobody fixes it"]),
    Persona("casual-players", 0.35, 0.3, (20, 200), "general",
            {"nerf": -0.1, "difficulty": -0.9, "droprate": -0.1, "cosmetics": 0.8, "onboarding": 0.2},
            ["the story", "fashion frame", "my pet", "the new skins", "relaxing missions", "the quests",
             "photo mode", "the soundtrack", "playing with friends", "the open world"],
            ["{t} is so cozy, perfect after work", "really enjoying {t}, so pretty",
             "{t} makes me happy, great vibes", "just vibing with {t} tonight"],
            ["{t} got boring, nothing new to do", "{t} is too slow, I fell asleep",
             "{t} has too many bugs, my pet disappeared", "I keep getting lost, {t} isn't fun today"]),
    Persona("loot-grinders", 0.2, 0.5, (400, 1800), "general",
            {"nerf": -0.2, "difficulty": 0.1, "droprate": -1.0, "cosmetics": -0.1, "onboarding": 0.0},
            ["rare mod drops", "the boss farm", "the weekly vault", "loot tables", "drop rates",
             "my inventory", "the grind", "resource farming", "relic runs", "endgame loot"],
            ["{t} is rewarding, got three rares tonight", "{t} feels generous this week",
             "farming {t} is worth it right now", "{t} pays off, great loot"],
            ["200 runs of {t} and nothing", "{t} takes forever, the grind is unbearable",
             "{t} is so repetitive", "unlucky again with {t}, the rng hates me"]),
    Persona("new-players", 0.2, 0.35, (1, 30), "help",
            {"nerf": 0.0, "difficulty": -0.4, "droprate": 0.0, "cosmetics": 0.1, "onboarding": 0.9},
            ["the tutorial", "logging in", "the first quest", "the starter weapon", "joining a clan",
             "the controls", "the game on my laptop", "finding a squad", "the map", "the beginner guide"],
            ["{t} finally makes sense, thanks for the help", "{t} works now, great community",
             "just got through {t}, this is fun", "{t} was easy to learn"],
            ["how do I get past {t}? so confused", "{t} keeps crashing on login, please help",
             "stuck on {t}, nothing explains anything", "{t} is broken for me, error on start"]),
]
OPENERS = ["", "", "honestly ", "ok so ", "ngl ", "lol ", "tbh ", "man, "]
# What players say about a patch they feel strongly about, by the patch's kind and the feeling.
REACTIONS = {
    ("nerf", False): ["the rifle nerf ruined {t}", "after the damage nerf {t} feels awful",
                      "this weapon nerf killed {t}, uninstalling soon"],
    ("nerf", True): ["glad they nerfed rifles, {t} is healthier", "the damage nerf was needed for {t}"],
    ("difficulty", False): ["since the difficulty update {t} is way too hard", "Nightmare mode ruined {t} for me",
                            "the new difficulty is brutal, {t} stopped being fun"],
    ("difficulty", True): ["the harder endgame makes {t} exciting again", "Nightmare mode is a great challenge, {t} rocks"],
    ("droprate", False): ["the drop rate nerf made {t} pointless", "since the loot rebalance {t} drops nothing",
                          "they cut the rare drops, {t} is a waste of time"],
    ("cosmetics", True): ["the new skins are gorgeous, {t} looks amazing", "love the fashion update, {t} is so pretty"],
    ("cosmetics", False): ["another cosmetic update instead of fixing {t}"],
    ("onboarding", True): ["the tutorial fix helped a lot, {t} is clear now", "login works after the hotfix, {t} is fun"],
    ("onboarding", False): ["the tutorial changes made {t} more confusing"],
}


# More ways each kind of change is written, for longer simulated histories (see `patch_history`).
PATCH_TEXTS = {
    "nerf": ["Reduced shotgun damage falloff range.\nLowered the fire rate of burst rifles.",
             "Weapon balance pass: pistol damage reduced by 10%.", "Nerfed the damage of explosive launchers."],
    "difficulty": ["Enemies scale to higher levels in late missions.", "Boss health increased in elite difficulty.",
                   "Harder endgame: new Steel Path tier with tougher enemies."],
    "droprate": ["Lowered drop chances of rare resources.", "Relic rewards rebalanced: rare parts drop less often.",
                 "Reduced boss loot drops and weekly vault rewards."],
    "cosmetics": ["New armor skins and color palettes in the market.", "Added emotes, glyphs and a fashion contest.",
                  "Seasonal cosmetic bundle with capes and helmets."],
    "onboarding": ["Reworked the new player experience and tutorial quests.", "Fixed crashes on first launch for new accounts.",
                   "Clearer beginner guide and improved early mission hints."],
}


def patch_history(n: int, days: int, seed: int = 0) -> list[tuple[int, str, str, str]]:
    """n patches of random kinds at random days (at least 5 days apart), written in varied words."""
    rng = random.Random(seed)
    slots = sorted(rng.sample(range(5, days - 5, 5), n))
    out = []
    for i, day in enumerate(slots):
        kind = rng.choice(sorted(PATCH_TEXTS))
        out.append((day, f"Update {i + 1}", kind, rng.choice(PATCH_TEXTS[kind])))
    return out


def _sentiment(persona: Persona, day: float, patches: list[tuple[int, str, str, str]]) -> float:
    """The persona's mean mood on a day: a small positive base plus decaying patch effects."""
    mood = 0.25
    for pday, _, kind, _ in patches:
        if day >= pday:
            mood += persona.reactions[kind] * math.exp(-(day - pday) / DECAY_DAYS)
    return max(-1.0, min(1.0, mood))


def _snowflake(rng: random.Random) -> str:
    return str(rng.randrange(10**17, 10**18))


def simulate(seed: int = 7, players: int = 120, days: int = DAYS,
             patches: list[tuple[int, str, str, str]] = PATCHES) -> dict[str, Any]:
    """The whole community as Python data: players, messages, reviews, tickets, sessions, truth."""
    rng = random.Random(seed)
    roster = []
    weights = [p.share for p in PERSONAS]
    for i in range(players):
        persona = rng.choices(PERSONAS, weights)[0]
        roster.append({"discord": _snowflake(rng), "steam": str(76561198000000000 + rng.randrange(10**8)),
                       "account": f"acct-{i + 1:04d}", "name": f"player{i + 1}", "persona": persona,
                       "playtime": rng.randint(*persona.playtime), "churn_day": None})
    messages, sessions, tickets = [], [], []
    for day in range(days):
        for pl in roster:
            persona = pl["persona"]
            if pl["churn_day"] is not None:
                continue
            mood = _sentiment(persona, day, patches)
            if mood < -0.45 and rng.random() < 0.06:  # unhappy players leave, and leave a trace
                pl["churn_day"] = day
                continue
            minutes = max(5, int(rng.gauss(20 + pl["playtime"] / 15, 15) * (1 + 0.3 * mood)))
            if rng.random() < 0.75:
                sessions.append((pl["account"], START + timedelta(days=day, hours=rng.uniform(8, 23)), minutes))
            for _ in range(_poisson(rng, persona.rate)):
                positive = rng.random() < (mood + 1) / 2
                template = _reaction(rng, persona, day, positive, patches) or rng.choice(persona.praise if positive else persona.complaints)
                text = rng.choice(OPENERS) + template.format(t=rng.choice(persona.topics))
                when = START + timedelta(days=day, seconds=rng.uniform(8 * 3600, 24 * 3600 - 1))
                channel = persona.channel if rng.random() < 0.7 else rng.choice(["general", "competitive", "help"])
                messages.append({"id": _snowflake(rng), "author": pl, "text": text, "time": when,
                                 "channel": channel, "positive": positive})
                if persona.name == "new-players" and not positive and rng.random() < 0.3:
                    tickets.append((pl, when, text))
    messages.sort(key=lambda m: m["time"])
    _link_conversations(rng, messages)
    reviews = []
    for pl in roster:
        if rng.random() < 0.5:
            day = rng.randrange(days if pl["churn_day"] is None else pl["churn_day"] + 1)
            mood = _sentiment(pl["persona"], day, patches)
            positive = rng.random() < (mood + 1) / 2
            persona = pl["persona"]
            text = (rng.choice(persona.praise if positive else persona.complaints).format(t=rng.choice(persona.topics))
                    + (". Recommended." if positive else ". Not recommended right now."))
            reviews.append((pl, START + timedelta(days=day, hours=rng.uniform(0, 23)), text, positive))
    return {"roster": roster, "messages": messages, "sessions": sessions, "tickets": tickets, "reviews": reviews,
            "days": days, "patches": patches}


REACTION_DAYS = 14  # players write about a patch for this many days after it


def _reaction(rng: random.Random, persona: Persona, day: int, positive: bool,
              patches: list[tuple[int, str, str, str]]) -> str | None:
    """A line about a recent patch the persona feels strongly about (in the direction felt)."""
    for pday, _, kind, _ in reversed(patches):
        effect = persona.reactions[kind]
        recent = 0 <= day - pday < REACTION_DAYS
        if recent and (effect > 0) == positive and abs(effect) >= 0.4 and rng.random() < abs(effect) * 0.8:
            return rng.choice(REACTIONS.get((kind, positive), [None])) or None
    return None


def _poisson(rng: random.Random, lam: float) -> int:
    n, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return n
        n += 1


def _link_conversations(rng: random.Random, messages: list[dict[str, Any]]) -> None:
    """Replies go mostly to recent messages of the same persona in the channel; some mention."""
    recent: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        pool = recent.setdefault(m["channel"], [])
        same = [p for p in pool[-8:] if p["author"]["persona"] is m["author"]["persona"] and p["author"] is not m["author"]]
        if same and rng.random() < 0.35:
            m["reply_to"] = rng.choice(same)
        elif same and rng.random() < 0.15:
            m["mention"] = rng.choice(same)["author"]
        pool.append(m)


def _discord_export(channel: str, msgs: list[dict[str, Any]]) -> dict[str, Any]:
    """The DiscordChatExporter JSON layout for one channel."""
    def user(pl: dict[str, Any]) -> dict[str, Any]:
        return {"id": pl["discord"], "name": pl["name"], "discriminator": "0000", "nickname": pl["name"],
                "color": None, "isBot": False, "roles": [], "avatarUrl": "https://cdn.discordapp.com/embed/avatars/0.png"}
    out = []
    for m in msgs:
        reply = m.get("reply_to")
        out.append({
            "id": m["id"], "type": "Reply" if reply else "Default",
            "timestamp": m["time"].isoformat(timespec="milliseconds"), "timestampEdited": None,
            "callEndedTimestamp": None, "isPinned": False,
            "content": (f"@{m['mention']['name']} " if m.get("mention") else "") + m["text"],
            "author": user(m["author"]), "attachments": [], "embeds": [], "stickers": [], "reactions": [],
            "mentions": [user(m["mention"])] if m.get("mention") else [],
            **({"reference": {"messageId": reply["id"], "channelId": f"chan-{channel}", "guildId": "guild-1"}} if reply else {}),
        })
    return {"guild": {"id": "guild-1", "name": "Demo Game Community", "iconUrl": None},
            "channel": {"id": f"chan-{channel}", "type": "GuildTextChat", "categoryId": "cat-1",
                        "category": "Community", "name": channel, "topic": None},
            "dateRange": {"after": None, "before": None}, "exportedAt": "2025-05-01T00:00:00+00:00",
            "messages": out, "messageCount": len(out)}


def write_demo(folder: Path, seed: int = 7, **options: Any) -> dict[str, int]:
    """Write the demo community in real input formats, and FOLDER_truth.json beside it; returns counts.
    `options` go to `simulate` (players, days, patches)."""
    sim = simulate(seed, **options)
    patches = sim["patches"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "discord").mkdir(exist_ok=True)
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for m in sim["messages"]:
        by_channel.setdefault(m["channel"], []).append(m)
    for channel, msgs in by_channel.items():
        (folder / "discord" / f"{channel}.json").write_text(json.dumps(_discord_export(channel, msgs), separators=(",", ":")))
    reviews = {}
    for n, (pl, when, text, positive) in enumerate(sim["reviews"]):
        rid = str(190000000 + n)
        reviews[rid] = {"recommendationid": rid, "author": {"steamid": pl["steam"], "num_games_owned": 50,
                        "num_reviews": 3, "playtime_forever": pl["playtime"] * 60, "playtime_last_two_weeks": 0,
                        "playtime_at_review": pl["playtime"] * 60, "last_played": int(when.timestamp())},
                        "language": "english", "review": text, "timestamp_created": int(when.timestamp()),
                        "timestamp_updated": int(when.timestamp()), "voted_up": positive, "votes_up": 0,
                        "votes_funny": 0, "weighted_vote_score": 0, "comment_count": 0, "steam_purchase": True,
                        "received_for_free": False, "written_during_early_access": False}
    (folder / "steam_reviews.json").write_text(json.dumps({"reviews": reviews, "query_summary": {"num_reviews": len(reviews)},
                                                           "cursors": {}}, separators=(",", ":")))
    with open(folder / "tickets.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "created", "subject", "body", "status", "priority", "requester"])
        for n, (pl, when, text) in enumerate(sim["tickets"], 1):
            w.writerow([f"T-{n:04d}", when.isoformat(timespec="seconds"), text[:60], text, "open", "normal", pl["account"]])
    with open(folder / "telemetry.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["player", "time", "event", "value"])
        for account, when, minutes in sorted(sim["sessions"], key=lambda s: s[1]):
            w.writerow([account, when.isoformat(timespec="seconds"), "session_minutes", minutes])
    notes = [{"date": (START + timedelta(days=day, hours=18)).isoformat(timespec="seconds"), "title": title,
                "text": text, "kind": kind} for day, title, kind, text in patches]
    (folder / "patches.json").write_text(json.dumps(notes, indent=1))
    truth = {"seed": seed, "start": START.isoformat(), "days": sim["days"],
             "players": [{"discord": p["discord"], "steam": p["steam"], "account": p["account"],
                          "persona": p["persona"].name, "playtime_hours": p["playtime"], "churn_day": p["churn_day"]}
                         for p in sim["roster"]],
             "patches": [{"day": d, "title": t, "kind": k, "effects": {p.name: p.reactions[k] for p in PERSONAS}}
                         for d, t, k, _ in patches]}
    # beside the data, not in it: the answers must not be ingested with the questions
    (folder.parent / f"{folder.name}_truth.json").write_text(json.dumps(truth, indent=1))
    return {"messages": len(sim["messages"]), "reviews": len(reviews), "tickets": len(sim["tickets"]),
            "sessions": len(sim["sessions"]), "players": len(sim["roster"]), "patches": len(patches)}


def written_theme(text: str) -> str | None:
    """What a simulated message is about, as the simulator wrote it: the patch kind it reacts to
    ("patch:nerf"), else the subject its template was filled with (one of the personas' 40, "the grind"),
    else None. The truth that topics are scored against (how many themes, and whether a topic keeps to one)."""
    for pattern, theme in _WRITTEN:
        found = pattern.search(text)
        if found and theme:
            return theme
        if found:  # the subject ends the text before the template's words ("ngl drop rates is so ...")
            said = found.group(1)
            subject = next((said[i:] for i in range(len(said)) if said[i:] in _SUBJECTS), None)
            if subject:
                return subject
    return None


_SUBJECTS = {t for p in PERSONAS for t in p.topics}
_WRITTEN = [(re.compile(re.escape(head) + "(.+)" + re.escape(tail), re.IGNORECASE), f"patch:{kind}")
            for (kind, _), templates in REACTIONS.items() for head, _, tail in (t.partition("{t}") for t in templates)
            ] + [(re.compile(re.escape(head) + "(.+)" + re.escape(tail)), None)
                 for p in PERSONAS for t in p.praise + p.complaints for head, _, tail in [t.partition("{t}")]]


def discord_between(folder: Path, out: Path, since: str, until: str) -> Path:
    """The demo's discord exports (`folder`) cut to the messages of days [since, until), written to `out`: a
    community grown a slice at a time, as a watcher sees it."""
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(Path(folder).glob("*.json")):
        d = json.loads(f.read_text())
        d["messages"] = [m for m in d["messages"] if since <= m["timestamp"][:10] < until]
        (out / f.name).write_text(json.dumps(d))
    return out


def community_days(rng: np.random.Generator, days: int = 90, event: tuple[int, str, float] | None = None,
                   tails: int | None = None, dispersion: float | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily (message counts, mean sentiment, embedding drift) of a community with no event: a weekly
    rhythm (busier weekends), activity and mood that wander from day to day, and the sampling noise of a
    mean over that day's messages. `event` = (day, "volume" | "sentiment", size) adds a one-day event of
    `size` robust standard deviations (1.4826 x MAD) of that series itself: a surge, or a drop in mood.
    Real tails: `tails` = degrees of freedom of a Student-t mood noise (the same variance); `dispersion`
    makes the counts negative binomial (variance mu + mu^2 / dispersion) instead of Poisson."""
    weekday = np.arange(days) % 7
    activity = 60 * np.exp(np.cumsum(rng.normal(0, 0.04, days))) * np.where(weekday >= 5, 1.3, 1.0)
    counts = (rng.poisson(activity) if dispersion is None else
              rng.negative_binomial(dispersion, dispersion / (dispersion + activity))).astype(float)
    mood = 0.1 + np.cumsum(rng.normal(0, 0.012, days))
    noise = rng.normal(0, 0.45, days) if tails is None else 0.45 * rng.standard_t(tails, days) * np.sqrt((tails - 2) / tails)
    sentiment = mood + noise / np.sqrt(np.maximum(counts, 1))
    drift = np.exp(rng.normal(np.log(3.0 / np.maximum(counts, 1)), 0.25))
    if event is not None:
        day, series, size = event
        target = counts if series == "volume" else sentiment
        robust_sd = 1.4826 * np.median(np.abs(target - np.median(target)))
        if series == "volume":
            counts[day] += round(size * robust_sd)
        else:
            sentiment[day] -= size * robust_sd
    return counts, sentiment, drift


# ---- a busy chat, minute by minute (the live alerts' benchmark) -------------------------------------

# When players talk, by hour of the day (UTC): quiet nights, busy evenings.
HOURLY = np.array([0.9, 0.7, 0.5, 0.35, 0.25, 0.2, 0.2, 0.25, 0.35, 0.5, 0.6, 0.7,
                   0.8, 0.85, 0.9, 1.0, 1.1, 1.25, 1.4, 1.55, 1.6, 1.5, 1.3, 1.1])
CHATTER = ["lol", "yeah", "true", "same", "no way", "haha", "fr", "gg", "facts", "wait what", "nice",
           "anyone up for a run?", "brb", "that's wild", "ok", "idk", "lmao yes", "good point", "hmm", "rip"]
# A login outage as players write it: many ways, none a template of the chat above.
OUTAGE = ["can't log in, stuck on connecting", "servers down? login just spins", "is the game down for anyone else",
          "login failed again, error 503", "keeps saying unable to connect to server", "can't get past the login screen",
          "anyone else getting kicked at login?", "servers are dead, can't connect", "login queue stuck at 0 for ages",
          "disconnected and now I can't log back in", "authentication error every time I try to log in",
          "game won't let me sign in, connection timed out", "is there an outage? cannot connect",
          "log in broken rn?", "connection to server lost, can't relog", "can't sign in on pc, servers down?"]


def live_chat(seed: int = 0, days: float = 7.0, players: int = 400, per_day: float = 2500.0,
              start: float | None = None, outages: list[float] = (), outage_players: int = 12,
              outage_minutes: float = 20.0) -> list[dict[str, Any]]:
    """A busy chat server's messages (time, author, text, outage), sorted by time: threads started at the
    hours' rhythm (HOURLY), each drawing replies from other players of its persona within minutes, half
    on the thread's subject (the clumps a burst detector must not mistake for an event), half chatter.
    `outages`: start times of login outages, each bringing `outage_players` players who write that they
    cannot log in over `outage_minutes` (faster at first), some of them twice."""
    rng = np.random.default_rng(seed)
    start = START.timestamp() if start is None else start
    roster = [(f"live{i:04d}", PERSONAS[int(rng.choice(len(PERSONAS), p=[p.share for p in PERSONAS]))])
              for i in range(players)]
    by_persona = {p.name: [a for a, q in roster if q is p] for p in PERSONAS}
    threads_per_day = per_day / 2.5  # a thread is its opener and 1.5 replies on average
    rate = HOURLY / HOURLY.mean() * threads_per_day / 24 / 3600  # threads per second, by hour
    out: list[dict[str, Any]] = []
    t, end = start, start + days * DAY_SECONDS
    while True:
        t += rng.exponential(1.0 / rate.max())
        if t >= end:
            break
        if rng.random() > rate[int(t % DAY_SECONDS // 3600)] / rate.max():
            continue  # thinning: the hour's rate
        author, persona = roster[int(rng.integers(players))]
        subject = str(rng.choice(persona.topics))
        positive = rng.random() < 0.55
        out.append({"time": t, "author": author, "text": _said(rng, persona, subject, positive), "outage": False})
        when = t
        for _ in range(int(rng.geometric(0.4)) - 1):  # replies: 1.5 on average
            when += rng.exponential(60.0)
            who = str(rng.choice(by_persona[persona.name]))
            text = (_said(rng, persona, subject, rng.random() < 0.5) if rng.random() < 0.5
                    else str(rng.choice(CHATTER)))
            out.append({"time": when, "author": who, "text": text, "outage": False})
    for o in outages:
        hit = rng.choice(players, outage_players, replace=False)
        for k, i in enumerate(hit):
            when = o + outage_minutes * 60 * (k / outage_players) ** 2 + rng.exponential(20.0)
            for _ in range(1 + int(rng.random() < 0.3)):
                out.append({"time": when, "author": roster[int(i)][0], "outage": True,
                            "text": str(rng.choice(OPENERS)) + str(rng.choice(OUTAGE))})
                when += rng.exponential(90.0)
    out = [m for m in out if m["time"] < end]
    out.sort(key=lambda m: m["time"])
    return out


DAY_SECONDS = 86400.0


def _said(rng: np.random.Generator, persona: Persona, subject: str, positive: bool) -> str:
    template = str(rng.choice(persona.praise if positive else persona.complaints))
    return str(rng.choice(OPENERS)) + template.format(t=subject)
