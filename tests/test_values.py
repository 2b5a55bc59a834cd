"""Reading parameter values in the shapes CX system entities resolve to (fulfillment.values)."""

import datetime

import pytest

from fulfillment.values import as_date, as_number, as_text, as_time


@pytest.mark.parametrize(
    ("value", "date"),
    [
        ({"year": 2026.0, "month": 11.0, "day": 30.0}, datetime.date(2026, 11, 30)),  # @sys.date
        ({"year": 2026, "month": 2, "day": 28}, datetime.date(2026, 2, 28)),
        ("2026-11-30", datetime.date(2026, 11, 30)),
        (" 2026-11-30 ", datetime.date(2026, 11, 30)),
        ("2026-11-30T15:00:00Z", datetime.date(2026, 11, 30)),
        # The date the caller said, not the date the same instant is in UTC.
        ("2026-11-30T23:30:00-05:00", datetime.date(2026, 11, 30)),
        ("2026-11-30 09:15", datetime.date(2026, 11, 30)),
    ],
)
def test_dates_are_read_from_the_struct_and_from_iso_text(value, date):
    assert as_date(value) == date


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-30garbage",
        "2026-11-30 or so",
        "2026-11-30T25:00",
        "2026-02-30",
        "30/11/2026",
        "next tuesday",
        "",
        {"year": 2026, "month": 13, "day": 1},
        {"year": 2026, "month": 11},
        {"year": 2026.5, "month": 11, "day": 30},
        {"year": float("inf"), "month": 11, "day": 30},
        {"year": 1e300, "month": 11, "day": 30},
        2026,
        None,
        ["2026-11-30"],
    ],
)
def test_anything_else_is_not_a_date(value):
    assert as_date(value) is None


@pytest.mark.parametrize(
    ("value", "time"),
    [
        ({"hours": 15.0, "minutes": 5.0, "seconds": 0.0, "nanos": 0.0}, datetime.time(15, 5)),  # @sys.time
        ("15:00", datetime.time(15, 0)),
        ("3 pm", datetime.time(15, 0)),
        ("3:05 p.m.", datetime.time(15, 5)),
        ("12 am", datetime.time(0, 0)),
        ("12:30 PM", datetime.time(12, 30)),
        ("2026-11-30T09:45:00Z", datetime.time(9, 45)),
    ],
)
def test_times_are_read_from_the_struct_and_from_text(value, time):
    assert as_time(value) == time


@pytest.mark.parametrize("value", ["25:00", "13 pm", "0 am", "9:75", "noonish", "", {"hours": 24}, None, 15])
def test_anything_else_is_not_a_time(value):
    assert as_time(value) is None


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (12.5, 12.5),
        (3, 3),
        ({"amount": 12.5, "currency": "USD"}, 12.5),  # @sys.unit-currency
        ("1,250.50", 1250.5),
        (" 7 ", 7.0),
    ],
)
def test_numbers_are_read_from_floats_currency_and_text(value, number):
    assert as_number(value) == number


@pytest.mark.parametrize(
    "value",
    [
        True,
        None,
        "twelve",
        "12 USD",
        [12],
        {"currency": "USD"},
        "nan",
        "inf",
        "-Infinity",
        float("nan"),
        1e999,
    ],
)
def test_anything_else_is_not_a_number(value):
    assert as_number(value) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1001.0, "1001"),
        (1001.5, "1001.5"),
        (42, "42"),
        (4155550123.0, "4155550123"),
        (9007199254740991.0, "9007199254740991"),  # the largest a float holds exactly
        (1e300, "1e+300"),  # not 301 digits of binary rounding
        ("  Dental   Cleaning\n", "Dental Cleaning"),
        ("ada\u200b@example.com", "ada@example.com"),
        ("Paris\u2028Texas", "Paris Texas"),
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0645",
        ),  # ZWNJ kept
    ],
)
def test_scalars_read_as_one_line_of_text(value, text):
    assert as_text(value) == text


# JSON's 1e999 parses as infinity: once read back as "the weather for inf".
@pytest.mark.parametrize(
    "value", [None, True, "", "   \n", ["a"], {"a": 1}, float("inf"), -float("inf"), float("nan")]
)
def test_structures_and_blanks_are_not_text(value):
    assert as_text(value) is None
