"""Appointments (``handlers/appointments.py``): validate-appointment-date, book-appointment;
how dates sound, and the agent's calendar they are counted on."""

import datetime
import logging

import pytest

from tests.conftest import outcome_of, texts_of
from tests.tags.kit import (
    BOOKING,
    BOOKING_TOKEN,
    LATER,
    LATER_SPOKEN,
    assert_asked_again,
    flat_error,
    form_page,
    in_days,
    nested_error,
    resolve,
    sent_json,
    session_params,
    weekday_spoken,
)

# --- validate-appointment-date --------------------------------------------------------------------


def sys_date(date):
    """A date as @sys.date resolves it: numbers as floats."""
    return {"year": float(date.year), "month": float(date.month), "day": float(date.day)}


@pytest.mark.parametrize("days_ahead", [0, 1, 30, 90])
@pytest.mark.parametrize("shape", [sys_date, datetime.date.isoformat], ids=["sys.date", "iso"])
def test_validate_appointment_date_keeps_today_up_to_ninety_days_ahead(backends, days_ahead, shape):
    date = in_days(days_ahead)

    answer = resolve("validate-appointment-date", pageInfo=form_page("date", shape(date)))

    assert texts_of(answer) == []
    assert "pageInfo" not in answer
    assert session_params(answer) == {"webhook_outcome": "ok"}  # the date stays in the agent's shape
    assert len(backends.calls) == 0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (lambda: None, "Sorry, I didn't catch the date."),
        (lambda: "next blue moon", "Sorry, I didn't catch the date."),
        (lambda: {"year": 2030.0, "month": 2.0, "day": 30.0}, "Sorry, I didn't catch the date."),
        (lambda: sys_date(in_days(-1)), "That was yesterday."),
        (lambda: sys_date(in_days(-10)), lambda: f"{weekday_spoken(in_days(-10))} has already passed."),
        (
            lambda: sys_date(in_days(-400)),
            lambda: f"{weekday_spoken(in_days(-400))}, {in_days(-400).year}, has already passed.",
        ),
        (lambda: sys_date(in_days(91)), "We can only book up to 90 days ahead."),
    ],
    ids=["missing", "unreadable", "no such day", "yesterday", "ten days ago", "years ago", "91 days ahead"],
)
def test_validate_appointment_date_asks_again_for_a_date_that_cannot_be_booked(backends, value, problem):
    problem = problem() if callable(problem) else problem

    answer = resolve("validate-appointment-date", pageInfo=form_page("date", value()))

    assert_asked_again(answer, "date", f"{problem} What day would you like to come in?")
    assert len(backends.calls) == 0


# --- book-appointment -----------------------------------------------------------------------------


APPOINTMENTS_URL = f"{BOOKING}/appointments"


@pytest.mark.parametrize(
    ("service", "spoken"), [("dental-cleaning", "a dental cleaning"), ("eye-exam", "an eye exam")]
)
def test_book_appointment_says_the_service_as_words(backends, service, spoken):
    # The agent's entity may resolve to its id ("dental-cleaning"): said aloud, it is words.
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2002"})
    params = {"service": service, "date": sys_date(LATER), "time": "10:30", "customer_name": "Ada"}

    (sentence,) = texts_of(resolve("book-appointment", params))

    assert sentence.startswith(f"You're booked for {spoken} on {LATER_SPOKEN}, at 10:30 AM.")


def test_book_appointment_books_with_what_the_caller_gave_and_confirms(backends):
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2002"})

    answer = resolve(
        "book-appointment",
        {
            "service": "Dental Cleaning",
            "date": sys_date(LATER),
            "time": {"hours": 14.0, "minutes": 30.0, "seconds": 0.0, "nanos": 0.0},
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
        },
        payload={"telephony": {"caller_id": "+15555550100"}},
    )

    assert answer["fulfillmentResponse"]["messages"] == [
        {
            "text": {
                "text": [
                    f"You're booked for a dental cleaning on {LATER_SPOKEN}, at 2:30 PM. "
                    "Your confirmation number is APT-2002."
                ]
            }
        },
        {"conversationSuccess": {"metadata": {"booked": "dental-cleaning"}}},
    ]
    assert session_params(answer) == {
        "confirmation_id": "APT-2002",
        "appointment_date": "2030-03-05",
        "appointment_time": "14:30",
        "webhook_outcome": "ok",
    }
    (call,) = backends.calls
    assert call.request.url == APPOINTMENTS_URL
    assert call.request.headers["Authorization"] == f"Bearer {BOOKING_TOKEN}"
    assert sent_json(call) == {
        "service": "dental-cleaning",
        "date": "2030-03-05",
        "time": "14:30",
        "customer": {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+15555550100"},
    }


def test_book_appointment_tomorrow_is_said_as_tomorrow_and_a_given_phone_wins(backends):
    backends.post(APPOINTMENTS_URL, status=201, json={"confirmation_id": "APT-2003"})

    answer = resolve(
        "book-appointment",
        {
            "service": "haircut",
            "date": sys_date(in_days(1)),
            "time": "10 am",
            "customer_phone": "+441234",
            "customer_name": "Ada",
        },
        payload={"telephony": {"caller_id": "+15555550100"}},
    )

    assert texts_of(answer) == [
        "You're booked for a haircut tomorrow at 10 AM. Your confirmation number is APT-2003."
    ]
    assert sent_json(backends.calls[0])["customer"] == {"name": "Ada", "email": "", "phone": "+441234"}


BOOKING_REFUSALS = {
    "slot-taken": "That time is already taken. Would another time that day work?",
    "outside-hours": "We're open from 9 AM to 5 PM, with appointments every half hour. What time would suit you?",
    "date-in-past": "That date has already passed. What day would you like to come in?",
    "unknown-service": "I'm sorry, we don't offer that service. We can book a haircut, a consultation, "
    "a dental cleaning or a car service.",
}


def test_book_appointment_today_at_an_hour_gone_says_the_time_has_passed(backends):
    backends.post(APPOINTMENTS_URL, status=422, json={"code": "date-in-past"})

    answer = resolve(
        "book-appointment",
        {
            "service": "haircut",
            "date": datetime.date.today().isoformat(),
            "time": "09:00",
            "customer_name": "Ada",
        },
    )

    assert texts_of(answer) == [
        "That time has already passed today. What later time, or which other day, would suit you?"
    ]


@pytest.mark.parametrize("error_body", [flat_error, nested_error], ids=["code", "error.code"])
@pytest.mark.parametrize("code", BOOKING_REFUSALS)
def test_book_appointment_words_each_refusal_of_the_booking_system(backends, code, error_body):
    backends.post(APPOINTMENTS_URL, status=422, json=error_body(code))

    answer = resolve(
        "book-appointment",
        {"service": "haircut", "date": LATER.isoformat(), "time": "10:00", "customer_name": "Ada"},
    )

    assert texts_of(answer) == [BOOKING_REFUSALS[code]]
    assert outcome_of(answer) == "rejected"
    assert len(backends.calls) == 1


def test_dates_are_spoken_in_english_relative_to_today():
    import datetime

    from handlers._words import day, on_day

    today = datetime.date(2026, 11, 24)
    assert [on_day(today + datetime.timedelta(days=n), today) for n in (-1, 0, 1)] == [
        "yesterday",
        "today",
        "tomorrow",
    ]
    assert day(datetime.date(2026, 11, 30), today) == "Monday, November 30"
    assert on_day(datetime.date(2027, 1, 3), today) == "on Sunday, January 3"


# --- how dates sound --------------------------------------------------------------------------------


def test_a_date_more_than_half_a_year_away_is_said_with_its_year():
    from handlers._words import day

    today = datetime.date(2026, 11, 24)
    assert day(datetime.date(2026, 12, 3), today) == "Thursday, December 3"
    assert day(datetime.date(2027, 1, 7), today) == "Thursday, January 7"
    assert day(datetime.date(2030, 6, 14), today) == "Friday, June 14, 2030"
    assert day(datetime.date(2025, 10, 10), today) == "Friday, October 10, 2025"


def test_today_is_the_agents_today_not_the_servers(backends, agent_time_zone):
    from zoneinfo import ZoneInfo

    utc_today = datetime.datetime.now(datetime.UTC).date()
    # At any hour one of these two is on another date than UTC: UTC-12 before noon, UTC+14 after 10.
    zone = (
        "Etc/GMT+12"
        if datetime.datetime.now(ZoneInfo("Etc/GMT+12")).date() != utc_today
        else "Pacific/Kiritimati"
    )
    their_today = datetime.datetime.now(ZoneInfo(zone)).date()
    assert their_today != utc_today
    asked = min(their_today, utc_today)  # today on one calendar, yesterday on the other

    agent_time_zone(zone)
    with_zone = resolve("validate-appointment-date", pageInfo=form_page("date", asked.isoformat()))
    agent_time_zone("UTC")
    in_utc = resolve("validate-appointment-date", pageInfo=form_page("date", asked.isoformat()))

    accepted = {"webhook_outcome": "ok"}
    assert (session_params(with_zone) == accepted) == (asked == their_today)
    assert (session_params(in_utc) == accepted) == (asked == utc_today)


def test_a_time_zone_that_cannot_be_loaded_is_said_and_dates_stay_utc(agent_time_zone, caplog):
    from fulfillment import clock

    agent_time_zone("Mars/Olympus_Mons")
    with caplog.at_level(logging.ERROR, logger="fulfillment"):
        assert clock.zone() is datetime.UTC
    assert "AGENT_TIME_ZONE='Mars/Olympus_Mons' cannot be used" in caplog.text
