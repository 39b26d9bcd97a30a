"""People's names from Python: one key per person, non-names refused with amends.InvalidName."""

from __future__ import annotations

import datetime as dt

import pytest

import amends


@pytest.mark.parametrize(
    "spelling",
    ["Lena", " lena", "lena\u200b", "LENA", "\uff4c\uff45\uff4e\uff41", "lena\u00a0", "\u3000Lena\n", "\ufefflena"],
)
def test_every_spelling_of_lena_is_one_key(spelling: str) -> None:
    assert amends.names.normalise(spelling) == "lena"


def test_case_folding_compatibility_forms_and_combining_marks() -> None:
    assert amends.names.same_person("Stra\u00dfe", "STRASSE")
    assert amends.names.normalise("le\u0301na") == "l\u00e9na"
    assert amends.names.normalise("Ana  Ruiz") == "ana ruiz"


def test_different_names_stay_different() -> None:
    assert not amends.names.same_person("lena", "lena2")
    assert not amends.names.same_person("l\u00e9na", "lena")
    assert not amends.names.same_person("Ana Ruiz", "AnaRuiz")


def test_a_control_character_is_refused_with_the_name_escaped() -> None:
    with pytest.raises(amends.InvalidName) as caught:
        amends.names.normalise("lena\a")
    assert str(caught.value) == (
        'the name "lena\\u0007" holds the control character U+0007; a name is one line of printable text: remove it'
    )
    with pytest.raises(amends.InvalidName):
        amends.names.normalise("le\tna")


@pytest.mark.parametrize("blank", ["", "   ", "\u200b", " \u00a0\u3000 "])
def test_a_blank_name_is_refused(blank: str) -> None:
    with pytest.raises(amends.InvalidName, match="give the person's name"):
        amends.names.normalise(blank)


def test_a_lone_surrogate_is_not_utf8() -> None:
    with pytest.raises(amends.InvalidName, match=r'"lena\\xed\\xb3\\xbf" is not valid UTF-8'):
        amends.names.normalise("lena\udcff")


def test_invalid_name_is_an_invalid_argument_and_a_value_error() -> None:
    assert issubclass(amends.InvalidName, amends.InvalidArgument)
    assert issubclass(amends.InvalidName, ValueError)
    assert "InvalidName" in amends.__all__ and "names" in amends.__all__


def test_a_name_is_a_str() -> None:
    with pytest.raises(TypeError, match="must be a str"):
        amends.names.normalise(b"lena")  # type: ignore[arg-type]


POLICY = """
version = "1"
[roles]
team_lead = ["lena", "omar"]
finance = ["fatima"]
[[rules]]
name = "goodwill"
kinds = ["goodwill"]
steps = [ { any_of = ["team_lead"] }, { any_of = ["finance"] } ]
"""

NOW = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


def test_an_approval_chain_knows_people_under_any_spelling(tmp_path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    policy = amends.Policy.load(path)
    chain = policy.chain("goodwill", "400.00", tier="growth", requester="lena", started_at=NOW)
    with pytest.raises(amends.ApprovalError, match="nobody approves their own request"):
        chain.approve(" Lena\u200b", at=NOW)
    assert chain.waiting_for(NOW.date()) == ["omar"]
    assert not chain.approve("OMAR", at=NOW)  # a team lead, capitalised
    with pytest.raises(amends.ApprovalError, match="has approved in this chain already"):
        chain.approve("omar", at=NOW)
    with pytest.raises(amends.InvalidName):
        chain.approve("fati\tma", at=NOW)
    assert chain.approve("\uff46\uff41\uff54\uff49\uff4d\uff41", at=NOW)  # fullwidth "ｆａｔｉｍａ"
