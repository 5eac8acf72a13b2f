"""Every value kind renders to text and HTML with a structure a person reads: a headline, the chart
inline, quotes as quotations, tables aligned, the evidence collapsed, never a raw map."""
from __future__ import annotations

import re
from typing import Any

from pilang.datum import Keyword
from pilang.output.answers import quotes, sparkline, value_html
from pilang.result import Result
from pilang.table import Table

K = Keyword


def _result(series: bool = True) -> Result:
    q1 = {K("id"): 7, K("time"): "2025-03-11 10:00", K("source"): "discord", K("text"): "the  rifle\n\nnerf ruined it"}
    q2 = {K("id"): 9, K("time"): "2025-03-12 10:00", K("source"): "discord", K("text"): "the rifle nerf ruined it"}
    data = {K("answer"): "Most upset about nerf / rifle", K("handler"): "analytics-handler",
            K("model"): "a model", K("held-out"): {K("metric"): "MAE", K("value"): 0.3, K("baseline"): "no change",
                                                     K("baseline-value"): 0.4},
            K("evidence"): {K("drivers"): [{K("label"): "nerf / rifle", K("quotes"): [q1, q2]}],
                            K("table"): [{K("label"): "nerf / rifle", K("quotes"): [q1]}], K("messages"): 361}}
    return Result(data, {"x": ["2025-03-01", "2025-03-02", "2025-03-03"], "sentiment": [0.1, None, -0.2]}
                  if series else None)


def test_a_query_result_in_html_has_headline_chart_quotes_and_collapsed_evidence() -> None:
    page = _result().to_html()
    assert "<b>Most upset about nerf / rifle</b>" in page
    assert "<img alt='chart' src='data:image/png;base64," in page  # inside the HTML: every front end shows it
    assert page.count("<blockquote") == 1 and "the rifle nerf ruined it" in page and "\n" not in page.split("<img")[0]
    assert "quoted 2 times" in page and "#7" in page and "2025-03-11" in page
    assert "<details><summary>evidence" in page and "{:" not in page
    assert "held-out MAE 0.3 vs no change 0.4" in page


def test_a_query_result_in_text_fits_the_width_with_a_sparkline() -> None:
    lines = _result().lines(60)
    assert lines[0].startswith("Most upset about") and all(len(line) <= 60 for line in lines)
    assert any(line.startswith("  sentiment: ") and "█" in line for line in lines)
    assert any(line.startswith("  > “the rifle nerf ruined it”") for line in lines)
    assert not any("{:" in line for line in lines)


def test_quotes_merge_repeats_by_text_not_by_citation() -> None:
    found = quotes(_result().data[K("evidence")])
    assert len(found) == 1 and found[0]["count"] == 2 and found[0]["text"] == "the rifle nerf ruined it"
    near = [{K("id"): 1, K("text"): "lol the rifle nerf ruined it"}, {K("id"): 2, K("text"): "The rifle nerf ruined it!"},
            {K("id"): 3, K("text"): "drop rates are terrible"}]
    assert [q["count"] for q in quotes(near)] == [2, 1]  # near-duplicates are one quote, never side by side
    filler = [{K("id"): 1, K("text"): "honestly ranked is stale, same three builds every game"},
              {K("id"): 2, K("text"): "ok so ranked is stale, same three builds every game"},
              {K("id"): 3, K("text"): "tbh matchmaking is stale, same three builds every game"}]
    assert [q["count"] for q in quotes(filler)] == [2, 1]  # a filler word apart is the same; another subject is not


def test_notes_stand_beside_the_headline_and_a_p_value_is_never_zero() -> None:
    data = {K("answer"): "If x ships, community: satisfaction no change expected.", K("model"): "m",
            K("evidence"): {K("notes"): ["the closest past change measured -0.33"],
                            K("tests"): [{K("metric"): "hours", K("p-value"): 0.0, K("difference"): 1363.0}]}}
    r = Result(data)
    page = r.to_html()
    assert page.index("the closest past change measured -0.33") < page.index("<details>")  # shown, not collapsed
    assert "&lt;\u00a00.0001" in page and ">0<" not in page and "1,363" in page
    text = r.lines(80)
    assert text[1].startswith("  note: the closest past change")


def test_sparkline_keeps_gaps_and_maps_range() -> None:
    assert sparkline([0, None, 1, float("nan"), 0.5]) == "▁ █ ▅"
    assert sparkline([]) == ""
    flat = sparkline([46.33, 46.1, 45.9, 45.69])  # scaled from zero: a flat forecast reads flat
    assert len(set(flat)) == 1 and flat[0] == "█"


def test_maps_and_row_lists_render_as_tables() -> None:
    page = value_html({K("messages"): 2941, K("by-source"): {K("discord"): 2835, K("steam"): 58},
                       K("rows"): [{K("a"): 1, K("b"): "x"}, {K("a"): 2, K("b"): "y"}]})
    assert "<table class='pilang-map'" in page and "<table class='pilang-rows'" in page
    assert re.search(r"<td style='[^']*text-align:right'>1</td>", page) and "{:" not in page
    assert ">2,941<" in page


def test_evidence_reads_as_words_not_pilang_notation() -> None:
    """Absent values blank, booleans yes/no, jargon columns named, numbers at a sensible precision, and a
    nested value in a cell is one short line, never a table in a table."""
    from pilang.output.readable import number
    rows = [{K("topic"): "nerf / rifle", K("p_adjusted"): 0.04270001, K("significant"): True, K("since"): None,
             K("terms"): [{K("term"): "nerf", K("weight"): 1.0}, {K("term"): "rifle", K("weight"): 0.5}]},
            {K("topic"): "drops", K("p_adjusted"): 1.0, K("significant"): False, K("since"): "2025-04-04",
             K("terms"): []}]
    page = value_html({K("table"): rows, K("fit"): {K("how"): "cached", K("merged"): 0, K("also"): None}})
    text = re.sub(r"<[^>]+>", " ", page)
    assert not re.search(r"\bnil\b|#t\b|#f\b", text), text
    assert "yes" in text and "no" in text and "p (Holm)" in text and "0.0427" in text and "0.04270001" not in text
    assert "nerf, rifle" in text and page.count("<table class='pilang-rows'") == 1  # the terms are words in a cell
    from pilang.output.readable import brief
    assert brief({K("source"): None, K("filters"): {}}) == "filters none" and brief([]) == "none"  # said, not blank
    assert number(46.333) == "46.3" and number(7.7341) == "7.73" and number(2941.0) == "2,941" and number(0.0) == "0"
    assert number(1234.56) == "1,235" and number(-0.0623) == "-0.0623" and number(0.00001) == "< 0.001"


def test_a_wide_table_shows_a_few_columns_and_the_rest_on_demand() -> None:
    from pilang.output.answers import MAX_COLUMNS
    rows = [{K(f"column-{i}"): i for i in range(12)} for _ in range(3)]
    page = value_html(rows)
    shown = page.split("<details>")[0]
    assert shown.count("<th style") == MAX_COLUMNS and "all 12 columns" in page
    assert "overflow-x:auto" in page  # what is still wider scrolls inside the answer, not the page


def test_a_score_of_several_parts_is_a_small_table_with_its_baseline() -> None:
    """A prediction's backtest was a wall of numbers in the method line ("mae 0.0623; no-change-mae ...")."""
    from pilang.output.answers import score_line, score_rows
    held = {K("metric"): "time-ordered backtest", K("community"): {K("satisfaction"): {
        K("mae"): 0.0623, K("no-change-mae"): 0.0427, K("n"): 4,
        K("versus-no-change"): {K("verdict"): "behind", K("difference"): 0.02}}}}
    data = {K("answer"): "x", K("model"): "similar changes", K("held-out"): held}
    assert score_line(data) == "similar changes · held-out: time-ordered backtest"
    (row,) = score_rows(data)
    assert row[K("scored")] == "community satisfaction" and row[K("vs no change")] == "behind"
    page = Result(data).to_html()
    assert "no-change mean error" in page and "behind" in page and "0.0427" in page


def test_tables_align_text_left_and_numbers_right() -> None:
    t = Table([{K("name"): "casual", K("size"): 63}, {K("name"): "competitive", K("size"): 40}])
    page = t.to_html()
    assert re.search(r"<td style='[^']*text-align:left'>casual</td>", page)
    assert re.search(r"<td style='[^']*text-align:right'>63</td>", page)
    text = t.__pilang_repr__().splitlines()
    assert text[2].startswith("casual ") and text[2].endswith(" 63")


def test_results_without_series_have_no_image() -> None:
    page = _result(series=False).to_html()
    assert "<img" not in page and "<b>Most upset" in page


def test_a_session_switches_workspace_and_queries_there(demo_copy: Any, tmp_path: Any) -> None:
    import io

    from pilang.repl import run_command
    from pilang.session import Session
    s = Session(workspace=tmp_path / "empty")
    assert s.eval_text("(get (stats) :messages)") == 0
    other = demo_copy("switch")
    counts = s.eval_text(f'(open-workspace "{other}")')
    assert counts[K("messages")] > 2000 and s.eval_text("(get (stats) :messages)") == counts[K("messages")]
    r = s.eval_text("(query (type analytics) (target volume))")
    assert r.data[K("handler")].name == "analytics-handler"  # routes installed in the new workspace too
    out = io.StringIO()
    run_command(s, ",workspace", out)
    assert str(other) in out.getvalue()


def test_the_kernel_spec_can_name_a_workspace(tmp_path: Any) -> None:
    from pilang_kernel.install import kernel_json
    spec = kernel_json(str(tmp_path / "ws"))
    assert spec["env"]["PILANG_WORKSPACE"] == str((tmp_path / "ws").resolve()) and "env" not in kernel_json()


def test_a_map_in_a_notebook_is_a_small_table() -> None:
    from pilang_kernel.kernel import mime_bundle
    bundle = mime_bundle({K("messages"): 2941, K("by-source"): {K("discord"): 2835}})
    page = bundle["text/html"]
    assert re.match(r"<div style='overflow-x:auto[^']*'><table class='pilang-map'", page) and "{:" not in page
    assert ">2,941<" in page and ">discord<" in page


def test_progress_in_a_notebook_is_a_stream_line_on_stdout(monkeypatch: Any, capsys: Any) -> None:
    from pilang_engine.workspace import progress
    monkeypatch.setenv("PILANG_PROGRESS", "notebook")
    assert progress.wanted()
    assert list(progress.track(range(3), "demo.json")) == [0, 1, 2]
    with progress.step("finding topics in 2,000 messages") as said:
        with progress.step("loading the embedder"):  # inside a step: silent, the outer label says it
            pass
        said("18 topics")
    captured = capsys.readouterr()
    assert "demo.json" in captured.out and captured.err == ""
    assert re.search(r"\r; finding topics in 2,000 messages: 18 topics in \d+\.\d s\n", captured.out)
    assert "loading the embedder" not in captured.out
    monkeypatch.setenv("PILANG_PROGRESS", "off")
    assert not progress.wanted()
    monkeypatch.delenv("PILANG_PROGRESS")
    assert progress.wanted() is False  # stderr is no terminal under pytest: a script sees nothing
    with progress.step("training"):
        list(progress.track(range(3), "rows"))
    assert capsys.readouterr() == ("", "")


def test_a_front_end_reporter_gets_every_bar(monkeypatch: Any) -> None:
    from pilang_engine.workspace import progress
    monkeypatch.delenv("PILANG_PROGRESS", raising=False)
    seen: list[Any] = []

    class Bar:
        def __init__(self, label: str, total: Any, unit: str, is_step: bool) -> None:
            seen.append(("open", label, total, unit, is_step))

        def update(self, n: int = 1) -> None:
            seen.append(("update", n))

        def close(self, note: Any = None) -> None:
            seen.append(("close", note))
    previous = progress.set_reporter(Bar)
    try:
        assert progress.wanted()  # a front end that draws bars wants them, whatever stderr is
        with progress.counting("embedding", 5, "texts") as bar:
            bar.update(3)
            bar.update(2)
        with progress.step("training the graph network") as said:
            said("AUC 0.71")
    finally:
        progress.set_reporter(previous)
    assert seen == [("open", "embedding", 5, "texts", False), ("update", 3), ("update", 2), ("close", None),
                    ("open", "training the graph network", None, "", True), ("close", "AUC 0.71")]


def test_a_long_map_at_the_terminal_is_a_key_value_table() -> None:
    from pilang.output.answers import value_lines
    report = {K("files"): ["a.json"], K("taken"): {K("messages"): 48}, K("skipped"): {}, K("embedded"): 43,
              K("personas"): {K("personas"): "not fitted"}, K("seconds"): 7.75, K("notes"): "line one\n\nline two"}
    lines = value_lines(report, 60)
    assert lines[0].split() == ["files", "a.json"] and lines[1].split() == ["taken", "messages", "48"]
    assert lines[2].split() == ["skipped", "—"] and all(len(line) <= 60 for line in lines)
    assert not any("{:" in line for line in lines) and lines[-1].split() == ["notes", "line", "one", "line", "two"]
    assert value_lines({K("a"): 1}, 60) == ["{:a 1}"]  # a short map stays as written
    rows = value_lines([{K("name"): "ana", K("n"): 3}, {K("name"): "bo", K("n"): 12}] * 20, 60)
    assert rows[0].split() == ["name", "n"] and rows[2] == "ana    3"
    assert rows[-1] == "(40 rows, the first 30 shown)" and len(rows) == 2 + 30 + 1
