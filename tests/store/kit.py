"""What the demo store's tests share: a settable clock and the days it makes, the requests
they send (an appointment, a weather report), and the check of every answer's status and JSON
framing."""

from datetime import UTC, datetime, timedelta

import requests

TIMEOUT = 5


class Clock:
    """A settable clock for the store, so "today" cannot move under a test."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def noon_today():
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def day(clock, offset):
    return (clock.now.date() + timedelta(days=offset)).isoformat()


def answer(response, status):
    """The JSON body of ``response`` after checking its status and JSON framing."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.content)
    return response.json()


def get(store, path, **kwargs):
    return requests.get(store.url + path, timeout=TIMEOUT, **kwargs)


def post(store, path, body, **kwargs):
    return requests.post(store.url + path, json=body, timeout=TIMEOUT, **kwargs)


def count(store, sql, *params):
    with store.database.transaction() as conn:
        return conn.execute(sql, params).fetchone()[0]


def appointment(clock, offset=1, time="14:00", service="consultation", **customer):
    return {
        "service": service,
        "date": day(clock, offset),
        "time": time,
        "customer": customer
        or {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+1 415 555 0101"},
    }


def weather(store, city, key=None):
    headers = {"X-API-Key": store.weather_key if key is None else key}
    return get(store, "/weather/current", params={"city": city}, headers=headers)
