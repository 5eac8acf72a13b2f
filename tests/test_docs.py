"""The docs a newcomer reads: a short README with the two set-up commands, the depth in docs/, every link
between them resolving, and the CLI reference generated from the parsers (stale: this fails)."""
from __future__ import annotations

import re
from pathlib import Path

from pilang.cli import SUBCOMMANDS, reference

ROOT = Path(__file__).resolve().parent.parent


def test_the_cli_reference_is_generated_from_the_parsers_and_current() -> None:
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current.strip() == reference().strip(), "docs/cli.md is stale: pilang --cli-reference > docs/cli.md"
    for name in SUBCOMMANDS:
        assert f"## pilang {name}\n" in current


def test_the_readme_is_short_and_holds_the_two_set_up_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) < 10_000
    commands = re.findall(r"```sh\n(python3 -m venv .venv && .*)\n```", readme)
    assert len(commands) == 2 and "pytest" in commands[1] and "pilang examples/tour.pil" in commands[0]
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == commands[1]  # CI runs exactly it


def test_every_link_between_the_docs_resolves() -> None:
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:\s]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).resolve().exists(), f"{page.name} links to {target}"
        assert "](#" not in page.read_text() or page.name != "README.md", "README anchors point into docs/"


def test_the_docs_name_the_analyses_and_subcommands_the_code_has() -> None:
    """The analyses and the subcommands are each listed once in code; the docs that name them are checked
    against those lists, so neither can drift."""
    from pilang_engine.api import analysis_names
    language = (ROOT / "docs" / "language.md").read_text()
    named = re.search(r"Analytics targets: `([^`]+)`", language)
    assert named and sorted(named.group(1).split()) == sorted(analysis_names())
    usage = (ROOT / "docs" / "usage.md").read_text()
    said = set(re.findall(r"^pilang ([a-z]+)\b", usage, re.M))
    assert said - {"FILE"} >= set(SUBCOMMANDS), set(SUBCOMMANDS) - said
    assert not {s for s in said if s not in SUBCOMMANDS}, said - set(SUBCOMMANDS)
