"""Weather (``handlers/weather.py``): get-weather."""

import pytest

from tests.conftest import texts_of
from tests.tags.kit import REPORT, WEATHER, WEATHER_KEY, resolve, session_params

# --- get-weather ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temp_c", "degrees"), [(17.6, 18), (-3.4, -3), (0.2, 0)], ids=["rounds up", "below zero", "zero"]
)
def test_get_weather_says_the_rounded_temperature_and_the_condition(backends, temp_c, degrees):
    backends.get(
        f"{WEATHER}/weather/current",
        json={
            "location": {"name": "New York"},
            "current": {"temp_c": temp_c, "condition": {"text": "Light Snow"}},
        },
    )

    answer = resolve("get-weather", {"city": "new york"})

    assert texts_of(answer) == [f"Right now in New York it's {degrees} degrees Celsius, with light snow."]
    assert session_params(answer) == {
        "weather_city": "New York",
        "temperature_c": degrees,
        "weather_condition": "light snow",
        "webhook_outcome": "ok",
    }
    (call,) = backends.calls
    assert call.request.url == f"{WEATHER}/weather/current?city=New+York"
    assert call.request.headers["X-API-Key"] == WEATHER_KEY


def test_get_weather_asks_the_paid_api_once_per_city_in_ten_minutes(backends):
    backends.get(f"{WEATHER}/weather/current", json=REPORT)

    resolve("get-weather", {"city": "Paris"})
    resolve("get-weather", {"city": "paris"})

    assert len(backends.calls) == 1


@pytest.mark.parametrize(
    ("condition", "said"),
    [
        ("Sunny", "20 degrees Celsius and sunny."),
        ("Partly cloudy", "20 degrees Celsius and partly cloudy."),
        ("Overcast", "20 degrees Celsius and overcast."),
        ("Mist", "20 degrees Celsius, with mist."),
        ("Moderate rain", "20 degrees Celsius, with moderate rain."),
        ("Patchy snow possible", "20 degrees Celsius, with patchy snow possible."),
    ],
)
def test_the_condition_is_joined_as_the_word_it_is(backends, condition, said):
    backends.get(
        f"{WEATHER}/weather/current",
        json={**REPORT, "current": {"temp_c": 20, "condition": {"text": condition}}},
    )

    assert texts_of(resolve("get-weather", {"city": "Paris"})) == [f"Right now in Paris it's {said}"]


def test_one_degree_is_singular(backends):
    backends.get(
        f"{WEATHER}/weather/current", json={**REPORT, "current": {**REPORT["current"], "temp_c": -1.2}}
    )

    assert texts_of(resolve("get-weather", {"city": "Oslo"})) == [
        "Right now in Paris it's -1 degree Celsius and partly cloudy."
    ]
