"""Questions as community managers and producers write them (typos, abbreviations, relative dates,
persona nicknames), each with the query it means, asked of the demo workspace (`pilang demo --make`:
personas casual-players, competitive-players, loot-grinders, new-players; sources discord, steam,
tickets; channels general, competitive, help; five patches; data from 2025-03-01 to 2025-04-29).

Written before the translator (pilang/ask.py) was; `split` is fixed by a hash of the question, and the
translator is tuned on "dev" only: "held-out" questions are read by the benchmark alone. Conventions of
the gold queries: named periods as (context ...); a month, a day, "the past N days" and periods around
a patch as (time-range ...) of dates resolved against the data's last day (2025-04-29) and the
patches' days; parameters in the order period, filters (source, channel, persona), then the rest."""
from __future__ import annotations

import zlib

P = {"nerf": "2025-03-11", "1.1": "2025-03-23", "1.1.2": "2025-04-05", "1.2": "2025-04-15", "1.2.1": "2025-04-22"}


def a(target: str, *params: str) -> str:
    inner = " ".join(params)
    return f"(query (type analytics) (target {target})" + (f" (parameters {inner}))" if inner else ")")


def tr(since: str, until: str) -> str:
    return f'(time-range {since if since == "all" else chr(34) + since + chr(34)} {until if until == "all" else chr(34) + until + chr(34)})'


def f(*pairs: str) -> str:
    return "(filters " + " ".join(pairs) + ")"


def persona(name: str, question: str) -> str:
    return f'(query (type persona-inquiry) (target {name}) (parameters (question "{question}")))'


def react(target: str, change: str) -> str:
    return f'(query (type prediction) (target {target}) (parameters (change "{change}")))'


LW, LM, LP, ALL = "(context last-week)", "(context last-month)", "(context last-patch)", "(context all)"
CHURN = "(query (type prediction) (target player-churn))"
RISK = "(query (type prediction) (target player-risk))"

QUESTIONS: list[tuple[str, str]] = [
    # sentiment
    ("how do players feel this week?", a("sentiment", LW)),
    ("whats the mood like lately", a("sentiment")),
    ("sentiment last month", a("sentiment", LM)),
    ("how's sentiment on steam since the last patch?", a("sentiment", LP, f("(source steam)"))),
    ("are people happier than before?", a("sentiment")),
    ("overall sentiment of the community", a("sentiment", ALL)),
    ("how positive is discord in march", a("sentiment", tr("2025-03-01", "2025-04-01"), f("(source discord)"))),
    ("sentimnet in the help channel last wk", a("sentiment", LW, f("(channel help)"))),
    ("how are the competitive players feeling overall?", a("sentiment", ALL, f("(persona competitive-players)"))),
    ("mood of the grinders last month", a("sentiment", LM, f("(persona loot-grinders)"))),
    ("is the vibe negative in #general?", a("sentiment", f("(channel general)"))),
    ("how do newbies feel since the last update", a("sentiment", LP, f("(persona new-players)"))),
    ("sentiment in april", a("sentiment", tr("2025-04-01", "2025-05-01"))),
    ("how did reviews feel in the past 7 days", a("sentiment", LW, f("(source steam)"))),
    ("net sentiment of tickets last month", a("sentiment", LM, f("(source tickets)"))),
    ("how's the mood since Update 1.2", a("sentiment", tr(P["1.2"], "all"))),
    ("how happy were casuals between the two updates", a("sentiment", tr(P["1.1"], P["1.2"]), f("(persona casual-players)"))),
    ("sentiment before the nerf", a("sentiment", tr("all", P["nerf"]))),
    # volume
    ("how many messages last week?", a("volume", LW)),
    ("message volume this month", a("volume", LM)),
    ("how busy was discord since the patch", a("volume", LP, f("(source discord)"))),
    ("activity levels in the competitive channel", a("volume", f("(channel competitive)"))),
    ("how much are people posting lately", a("volume")),
    ("# of tickets in march", a("volume", tr("2025-03-01", "2025-04-01"), f("(source tickets)"))),
    ("volume of steam reviews all time", a("volume", ALL, f("(source steam)"))),
    ("how chatty were the new players last month?", a("volume", LM, f("(persona new-players)"))),
    ("msg count yesterday", a("volume", tr("2025-04-28", "2025-04-29"))),
    ("how many posts in the past 3 days", a("volume", tr("2025-04-27", "2025-04-30"))),
    ("how many messages on april 15", a("volume", tr("2025-04-15", "2025-04-16"))),
    ("volume since hotfix 1.2.1", a("volume", tr(P["1.2.1"], "all"))),
    # topics
    ("what are people talking about?", a("topics")),
    ("main topics last week", a("topics", LW)),
    ("what themes come up in steam reviews", a("topics", f("(source steam)"))),
    ("topics in the help channel this month", a("topics", LM, f("(channel help)"))),
    ("what do the competitive crowd discuss", a("topics", f("(persona competitive-players)"))),
    ("whats being discussed since the last patch", a("topics", LP)),
    ("top discussion subjects in tickets", a("topics", f("(source tickets)"))),
    ("what were folks chatting about in march", a("topics", tr("2025-03-01", "2025-04-01"))),
    ("topcis of conversation all time", a("topics", ALL)),
    ("what do casuals talk about most", a("topics", f("(persona casual-players)"))),
    ("what subjects are trending on discord last week", a("topics", LW, f("(source discord)"))),
    ("what did people discuss after Update 1.1", a("topics", tr(P["1.1"], "all"))),
    # drivers
    ("what are players upset about since the last patch?", a("drivers", LP)),
    ("why is sentiment down this week", a("drivers", LW)),
    ("what's driving the complaints lately", a("drivers")),
    ("what are people complaining about on steam", a("drivers", f("(source steam)"))),
    ("biggest complaints last month", a("drivers", LM)),
    ("what are the grinders angry about", a("drivers", f("(persona loot-grinders)"))),
    ("what pulled the mood down in march", a("drivers", tr("2025-03-01", "2025-04-01"))),
    ("what's making new players unhappy this week", a("drivers", LW, f("(persona new-players)"))),
    ("main pain points in the help channel", a("drivers", f("(channel help)"))),
    ("why are the pvp players mad since the nerf", a("drivers", tr(P["nerf"], "all"), f("(persona competitive-players)"))),
    ("what upset people after hotfix 1.1.2", a("drivers", tr(P["1.1.2"], "all"))),
    ("whats behind the negativity in tickets last wk", a("drivers", LW, f("(source tickets)"))),
    ("top gripes overall", a("drivers", ALL)),
    ("what are ppl mad about", a("drivers")),
    ("what changed for the worse between the two hotfixes", a("drivers", tr(P["1.1.2"], P["1.2.1"]))),
    ("what are the casual players frustrated with since the last update", a("drivers", LP, f("(persona casual-players)"))),
    # anomalies
    ("any unusual days last month?", a("anomalies", LM)),
    ("were there spikes in activity", a("anomalies")),
    ("anomalies on discord since the patch", a("anomalies", LP, f("(source discord)"))),
    ("did anything weird happen this week", a("anomalies", LW)),
    ("outlier days in march", a("anomalies", tr("2025-03-01", "2025-04-01"))),
    ("show me anomalys", a("anomalies")),
    ("any strange sentiment drops overall?", a("anomalies", ALL)),
    ("unusual spikes in tickets", a("anomalies", f("(source tickets)"))),
    ("were there odd days for the competitive players last month", a("anomalies", LM, f("(persona competitive-players)"))),
    ("any sudden surges after Update 1.2", a("anomalies", tr(P["1.2"], "all"))),
    # forecast
    ("what will sentiment look like next week?", a("forecast")),
    ("forecast the volume", a("forecast")),
    ("where is the mood heading", a("forecast")),
    ("forecast for discord", a("forecast", f("(source discord)"))),
    ("predict next week's activity", a("forecast")),
    ("projected trend for steam reviews", a("forecast", f("(source steam)"))),
    ("what's the outlook for the next 7 days", a("forecast")),
    ("will things get better or worse next week", a("forecast")),
    ("forcast sentiment for the casuals", a("forecast", f("(persona casual-players)"))),
    # patterns
    ("any weekly patterns in activity?", a("patterns")),
    ("what are the recurring rhythms", a("patterns")),
    ("which days of the week are busiest", a("patterns")),
    ("daily and weekly cycles on discord", a("patterns", f("(source discord)"))),
    ("do people post more on weekends", a("patterns")),
    ("seasonality of messages", a("patterns")),
    # hodge
    ("how does conversation flow between channels", a("hodge")),
    ("hodge decomposition of the reply graph", a("hodge")),
    ("are there circular reply flows", a("hodge")),
    ("who replies to whom, as a flow", a("hodge")),
    # churn
    ("who's about to quit?", CHURN),
    ("churn risk", CHURN),
    ("which players are likely to leave", CHURN),
    ("predict churn", CHURN),
    ("how many players will stop playing", CHURN),
    ("are we losing players", CHURN),
    ("whos gonna churn next", CHURN),
    ("which players might drop off", CHURN),
    # risk
    ("which players are at risk of turning toxic", RISK),
    ("toxicity risk per player", RISK),
    ("who are the risky players", RISK),
    ("player risk scores", RISK),
    ("flag players who might become toxic", RISK),
    # persona inquiries
    ("how would competitive players react to increased difficulty?",
     react("competitive-players", "increased difficulty")),
    ("ask the casuals what they think of the new skins", persona("casual-players", "ask the casuals what they think of the new skins")),
    ("what do new players think about the tutorial?", persona("new-players", "what do new players think about the tutorial?")),
    ("what do the grinders want from the next update", persona("loot-grinders", "what do the grinders want from the next update")),
    ("do competitive players like ranked?", persona("competitive-players", "do competitive players like ranked?")),
    ("how do the sweats feel about matchmaking", persona("competitive-players", "how do the sweats feel about matchmaking")),
    ("what's the casual crowd's opinion of photo mode", persona("casual-players", "what's the casual crowd's opinion of photo mode")),
    ("do newbies find the game too hard?", persona("new-players", "do newbies find the game too hard?")),
    ("what do farmers say about drop rates", persona("loot-grinders", "what do farmers say about drop rates")),
    ("what frustrates the new players most about login", persona("new-players", "what frustrates the new players most about login")),
    ("do the loot grinders enjoy the boss farm?", persona("loot-grinders", "do the loot grinders enjoy the boss farm?")),
    ("what do casual players want more of", persona("casual-players", "what do casual players want more of")),
    ("what do tryhards hate about the meta", persona("competitive-players", "what do tryhards hate about the meta")),
    ("ask competitive players about the leaderboard", persona("competitive-players", "ask competitive players about the leaderboard")),
    # predictions of a change
    ("what if we nerf the sniper rifle?", react("community", "nerf the sniper rifle")),
    ("how would casuals take it if we double the drop rates", react("casual-players", "double the drop rates")),
    ("predict the reaction if we add a ranked season", react("community", "add a ranked season")),
    ("what happens to satisfaction if we remove the daily login bonus",
     '(query (type prediction) (target satisfaction) (parameters (change "remove the daily login bonus")))'),
    ("will the grinders be ok if we cut boss loot", react("loot-grinders", "cut boss loot")),
    ("how will new players react to a harder tutorial", react("new-players", "a harder tutorial")),
    ("what if we buff shotguns", react("community", "buff shotguns")),
    ("who would churn if we raise prices",
     '(query (type prediction) (target player-churn) (parameters (change "raise prices")))'),
    ("how would the pvp crowd react to slower matchmaking", react("competitive-players", "slower matchmaking")),
    ("engagement if we add a new raid", '(query (type prediction) (target engagement) (parameters (change "add a new raid")))'),
    ("should we make the endgame harder? how would grinders respond", react("loot-grinders", "make the endgame harder")),
    # comparisons
    ("compare competitive and casual players", "(query (type comparison) (target competitive-players) (parameters (versus casual-players)))"),
    ("casuals vs grinders", "(query (type comparison) (target casual-players) (parameters (versus loot-grinders)))"),
    ("how do new players differ from competitive players",
     "(query (type comparison) (target new-players) (parameters (versus competitive-players)))"),
    ("this week versus last week", f"(query (type comparison) (target community) (parameters {tr('2025-04-23', '2025-04-30')} (versus {tr('2025-04-16', '2025-04-23')})))"),
    ("compare march and april", f"(query (type comparison) (target community) (parameters {tr('2025-04-01', '2025-05-01')} (versus {tr('2025-03-01', '2025-04-01')})))"),
    ("difference between the grinders and the newbies", "(query (type comparison) (target loot-grinders) (parameters (versus new-players)))"),
    ("compare before and after the nerf", f"(query (type comparison) (target community) (parameters {tr(P['nerf'], 'all')} (versus {tr('all', P['nerf'])})))"),
    ("how did competitive players change after update 1.1 vs before",
     f"(query (type comparison) (target competitive-players) (parameters {tr(P['1.1'], 'all')} (versus {tr('all', P['1.1'])})))"),
    ("competitive vs new players", "(query (type comparison) (target competitive-players) (parameters (versus new-players)))"),
    ("sweats versus casuals", "(query (type comparison) (target competitive-players) (parameters (versus casual-players)))"),
    # searches
    ("what do people say about the rifle?", '(search "the rifle" :k 10)'),
    ("find messages about the login crash", '(search "the login crash" :k 10)'),
    ("show me posts mentioning nightmare mode", '(search "nightmare mode" :k 10)'),
    ("anyone talking about photo mode?", '(search "photo mode" :k 10)'),
    ("search for complaints about matchmaking", '(search "complaints about matchmaking" :k 10)'),
    ("messages about the weekly vault", '(search "the weekly vault" :k 10)'),
    ("what are players saying regarding the soundtrack", '(search "the soundtrack" :k 10)'),
    ("find chat about relic runs", '(search "relic runs" :k 10)'),
    ("look up mentions of the leaderboard", '(search "the leaderboard" :k 10)'),
    ("what's said about fashion frame", '(search "fashion frame" :k 10)'),
    # more everyday phrasings
    ("hows the community doing", a("sentiment")),
    ("pulse check on discord", a("sentiment", f("(source discord)"))),
    ("what's bugging people in the help channel this week", a("drivers", LW, f("(channel help)"))),
    ("any red flags this week?", a("anomalies", LW)),
    ("what r the hot topics rn", a("topics")),
    ("how many tix since the patch", a("volume", LP, f("(source tickets)"))),
    ("sentiment trend for the next week", a("forecast")),
    ("what do reviews complain about since update 1.2", a("drivers", tr(P["1.2"], "all"), f("(source steam)"))),
    ("which topics do new players bring up in tickets", a("topics", f("(source tickets)", "(persona new-players)"))),
    ("mood on steam in april", a("sentiment", tr("2025-04-01", "2025-05-01"), f("(source steam)"))),
    ("what made the competitive players upset last month", a("drivers", LM, f("(persona competitive-players)"))),
    ("volume per day in the general channel last month", a("volume", LM, f("(channel general)"))),
    ("were there spikes on steam since hotfix 1.1.2", a("anomalies", tr(P["1.1.2"], "all"), f("(source steam)"))),
    ("how did the community feel about the latest patch", a("sentiment", LP)),
]


def split(question: str) -> str:
    """A third of the questions, by a fixed hash, are held out: read by the benchmark only."""
    return "held-out" if zlib.crc32(question.encode()) % 3 == 0 else "dev"
