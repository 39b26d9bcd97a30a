"""`amends policy check FILE` and amends.Policy.check: every problem of a policy file at once, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import amends
from amends import cli

SAMPLE = Path(amends.__file__).parent / "data" / "sample_policy.toml"

# Four mistakes, each of which an earlier amends accepted or stopped at one by one.
BROKEN = """\
version = "2026-11-02"
[roles]
team_lead = ["lena"]
finance = ["fatima"]

[[rules]]
name = "enterprise goodwill"
kinds = ["goodwill"]
up_to = "900.00"
tier = ["enterprise"]
auto_approve = true

[[rules]]
name = "goodwill"
kinds = ["goodwill"]
steps = [ { any_of = ["team_lead"], escalate_afterhours = 24, escalate_to = "finance" } ]

[term.goodwill]
per_request_cap = { starter = "100.00" }

[budgets]
escalate_to = "finance"
"""


@pytest.fixture(autouse=True)
def no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that opened a book would fail here."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("policy check opened a book")

    monkeypatch.setattr(amends, "open", refuse)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_problem_is_printed_at_once_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BROKEN)

    code, out, err = run(capsys, "policy", "check", str(path))

    assert code == 2 and err == ""
    assert out.splitlines() == [
        f'{path}:10: rules[0] (enterprise goodwill): unknown key "tier"; did you mean "tiers"?',
        f'{path}:16: rules[1] (goodwill).steps[0]: unknown key "escalate_afterhours"; did you mean "escalate_after_hours"?',
        f"{path}:16: rules[1] (goodwill).steps[0].escalate_to: needs escalate_after_hours (after how long it escalates)",
        f"{path}:18: unknown table [term]; did you mean [terms]?",
        f"{path}:21: unknown table [budgets]; did you mean [budget]?",
    ]


def test_a_valid_policy_says_ok_with_its_version_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policy", "check", str(SAMPLE))

    assert (code, out, err) == (0, "ok: policy 2026-11-01, 8 rules\n", "")


def test_json_lists_the_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(BROKEN.replace("tier = ", "tiers = "))

    code, out, _ = run(capsys, "policy", "check", str(path), "--json")

    document = json.loads(out)
    assert code == 2 and document["ok"] is False and document["version"] is None
    assert [(p["line"], p["where"]) for p in document["problems"]] == [
        (16, "rules[1] (goodwill).steps[0]"), (16, "rules[1] (goodwill).steps[0].escalate_to"), (18, ""), (21, "")]
    assert document["problems"][0]["column"] == 37  # where escalate_afterhours starts


def test_a_missing_file_is_an_error_not_a_valid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "policy", "check", str(tmp_path / "nope.toml"))

    assert code == 2 and out == ""
    assert "can't read the policy file" in err and "nope.toml" in err


def test_policy_check_returns_problems_and_parse_lists_them_all() -> None:
    problems = amends.Policy.check(BROKEN)

    assert [(p.line, p.where) for p in problems] == [
        (10, "rules[0] (enterprise goodwill)"), (16, "rules[1] (goodwill).steps[0]"),
        (16, "rules[1] (goodwill).steps[0].escalate_to"), (18, ""), (21, "")]
    assert str(problems[0]) == 'line 10: rules[0] (enterprise goodwill): unknown key "tier"; did you mean "tiers"?'
    with pytest.raises(amends.PolicyError) as refused:
        amends.Policy.parse(BROKEN)
    assert str(refused.value).splitlines() == ["policy file has 5 problems:"] + [str(p) for p in problems]
    assert amends.Policy.check(SAMPLE.read_text()) == []
    assert amends.Policy.check_file(SAMPLE) == []
    with pytest.raises(TypeError, match="check_file"):
        amends.Policy.check(SAMPLE)  # type: ignore[arg-type]
