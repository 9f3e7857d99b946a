from __future__ import annotations

import pytest

from backend.invoicing import structured_communication as ogm


@pytest.mark.parametrize(("base", "written"), [
    ("0000009700", "+++000/0009/70097+++"),
    ("1234567890", "+++123/4567/89002+++"),
    ("0100002604", "+++010/0002/60466+++"),
    (9700, "+++000/0009/70097+++"),
])
def test_build_appends_check_digits(base, written):
    assert ogm.format_digits(ogm.build(base)) == written


def test_remainder_zero_gives_97():
    assert ogm.check_digits("0000009700") == "97"
    assert 9700 % 97 == 0


@pytest.mark.parametrize("written", [
    "+++010/0002/60466+++",
    "***010/0002/60466***",
    "010000260466",
    " +++010/0002/60466+++ ",
    "010/0002/60466",
])
def test_parse_accepts_written_forms(written):
    assert ogm.parse(written) == "010000260466"


def test_parse_rejects_wrong_check_digits():
    with pytest.raises(ogm.InvalidStructuredCommunication) as caught:
        ogm.parse("+++010/0002/60467+++")

    assert caught.value.expected_check_digits == "66"


@pytest.mark.parametrize("written", [
    "+++010/0002/6046+++",
    "+++010/0002/60466***",
    "01000026046",
    "RF18539007547034",
    "",
])
def test_parse_rejects_other_formats(written):
    with pytest.raises(ogm.InvalidStructuredCommunication) as caught:
        ogm.parse(written)

    assert caught.value.expected_check_digits is None


def test_is_valid():
    assert ogm.is_valid("+++010/0002/60466+++")
    assert not ogm.is_valid("+++010/0002/60465+++")


@pytest.mark.parametrize("base", ["12345678901", "12a4", "-1"])
def test_build_rejects_invalid_base(base):
    with pytest.raises(ValueError):
        ogm.build(base)


def test_format_rejects_wrong_check_digits():
    with pytest.raises(ogm.InvalidStructuredCommunication):
        ogm.format_digits("010000260467")
