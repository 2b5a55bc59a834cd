"""Appointments: is that date possible, and book it.

Backend ``booking`` (``BACKEND_BOOKING_URL``, Bearer key in ``BACKEND_BOOKING_KEY``):
``POST /appointments`` with service, date, time and customer; answers 201 with a confirmation.
"""

from fulfillment import Rejected, Response, clock
from fulfillment.backend import backend, field, turn_key
from fulfillment.values import as_date, as_name, as_text, as_time
from handlers import app
from handlers._ids import spoken_email
from handlers._words import before_more_words, day, on_day, sentence_case, spoken_list, spoken_time

bookings = backend("booking", spoken_name="our booking system")

# How far ahead the calendar is open.
BOOKING_HORIZON_DAYS = 90


@app.tag("validate-appointment-date")
def validate_appointment_date(request):
    """Form validation: the date must be today or later, and within the booking horizon."""
    if request.unanswered("date"):
        return Response().with_outcome("no-input")
    date = as_date(request.param("date"))
    today = clock.today()
    if date is None:
        problem = "Sorry, I didn't catch the date."
    elif date < today:
        spoken = day(date)  # "yesterday" or the date: the caller hears what the agent understood
        problem = (
            "That was yesterday."
            if spoken == "yesterday"
            else f"{sentence_case(before_more_words(spoken))} has already passed."
        )
    elif (date - today).days > BOOKING_HORIZON_DAYS:
        problem = f"We can only book up to {BOOKING_HORIZON_DAYS} days ahead."
    else:
        # Left as the agent resolved it: @sys.date is a {year, month, day} struct, and a flow
        # may read $session.params.date.year; book-appointment reads either shape.
        return Response()
    return (
        Response(f"{problem} What day would you like to come in?")
        .invalidate("date")
        .with_outcome("invalid-input")
    )


BOOKING_REFUSALS = {
    "slot-taken": "That time is already taken. Would another time that day work?",
    "outside-hours": "We're open from 9 AM to 5 PM, with appointments every half hour. "
    "What time would suit you?",
    "date-in-past": "That date has already passed. What day would you like to come in?",
    "time-in-past": "That time has already passed today. What later time, or which other day, would suit you?",
    "unknown-service": "I'm sorry, we don't offer that service. We can book a haircut, a consultation, "
    "a dental cleaning or a car service.",
}


@app.tag(
    "book-appointment",
    side_effects=True,
    answers=("confirmation_id", "appointment_date", "appointment_time"),
)
def book_appointment(request):
    service = as_text(request.param("service"))
    date = as_date(request.param("date"))
    time = as_time(request.param("time"))
    name = as_name(request.param("customer_name"))
    needed = (("the service", service), ("the date", date), ("the time", time), ("your name", name))
    missing = [what for what, value in needed if value is None]
    if missing:
        return Response(f"To book, I still need {spoken_list(missing)}.").with_outcome("invalid-input")

    service_id = service.lower().replace(" ", "-")  # the entity's id: "dental-cleaning"
    try:
        booking = bookings.post_json(
            "/appointments",
            {
                "service": service_id,
                "date": date.isoformat(),
                "time": f"{time:%H:%M}",
                "customer": {
                    "name": name,
                    # Optional: as the caller said it, written as an address, or left out.
                    "email": spoken_email(as_text(request.param("customer_email"))) or "",
                    "phone": as_text(request.param("customer_phone")) or request.caller_id,
                },
            },
            idempotency_key=turn_key(request, service, date, time),  # one key per booking asked for
        )
    except Rejected as refusal:
        code = refusal.code
        if code == "date-in-past" and date == clock.today():
            code = "time-in-past"  # today is fine; the hour is what has gone
        sentence = BOOKING_REFUSALS.get(code, "I'm sorry, I couldn't book that appointment.")
        return Response(sentence).with_outcome("rejected")

    confirmation = field(booking, "confirmation_id", str)
    spoken = service_id.replace("-", " ")  # "dental cleaning"
    return (
        Response(
            f"You're booked for {'an' if spoken[0] in 'aeiou' else 'a'} {spoken} {before_more_words(on_day(date))} "
            f"at {spoken_time(time)}. "
            f"Your confirmation number is {confirmation}."
        )
        .success(booked=service_id)
        .set(
            confirmation_id=confirmation, appointment_date=date.isoformat(), appointment_time=f"{time:%H:%M}"
        )
    )
