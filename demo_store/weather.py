"""Made-up but stable weather for a fixed list of world cities.

The same city on the same day always gets the same weather (it is derived from a hash of
the city and the date), so a demo conversation can be repeated and checked, yet the
answer changes from day to day like real weather. Temperatures scatter around a typical
value for each city so that Dubai is not colder than Oslo.

    >>> city = find_city("  sao PAULO ")
    >>> city.name, city.country
    ('São Paulo', 'Brazil')
    >>> from datetime import date
    >>> current_weather(city, date(2030, 1, 1)) == current_weather(city, date(2030, 1, 1))
    True
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class City:
    name: str
    country: str
    typical_temp_c: float


CITIES = (
    City("London", "United Kingdom", 12),
    City("Paris", "France", 13),
    City("Berlin", "Germany", 10),
    City("Madrid", "Spain", 16),
    City("Rome", "Italy", 16),
    City("Oslo", "Norway", 6),
    City("New York", "United States of America", 13),
    City("Chicago", "United States of America", 10),
    City("Los Angeles", "United States of America", 19),
    City("Toronto", "Canada", 9),
    City("Mexico City", "Mexico", 17),
    City("São Paulo", "Brazil", 20),
    City("Buenos Aires", "Argentina", 18),
    City("Cairo", "Egypt", 22),
    City("Lagos", "Nigeria", 27),
    City("Nairobi", "Kenya", 19),
    City("Dubai", "United Arab Emirates", 28),
    City("Mumbai", "India", 27),
    City("Singapore", "Singapore", 27),
    City("Tokyo", "Japan", 16),
    City("Sydney", "Australia", 18),
)

# Conditions with the humidity range (percent) each one plausibly comes with.
_CONDITIONS = (
    ("Sunny", 25, 55),
    ("Partly cloudy", 35, 65),
    ("Cloudy", 45, 75),
    ("Overcast", 55, 85),
    ("Mist", 80, 98),
    ("Light rain", 70, 95),
    ("Moderate rain", 75, 98),
)
_FREEZING_CONDITION = ("Light snow", 75, 95)


def _match_key(name):
    # Case- and accent-insensitive, so "sao paulo" and "SÃO PAULO" both find São Paulo.
    decomposed = unicodedata.normalize("NFKD", name.strip().casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


_BY_KEY = {_match_key(city.name): city for city in CITIES}


def find_city(name):
    """The known city called ``name`` (any case, accents optional), or ``None``."""
    return _BY_KEY.get(_match_key(name))


def current_weather(city: City, day: date):
    """The weather in ``city`` on ``day``, in the weatherapi.com ``current.json`` shape."""
    digest = hashlib.sha256(f"{city.name}|{day.isoformat()}".encode()).digest()
    temp_c = round(city.typical_temp_c + (digest[0] / 255) * 14 - 7, 1)
    text, humidity_low, humidity_high = _CONDITIONS[digest[1] % len(_CONDITIONS)]
    if temp_c <= 1 and text.endswith("rain"):
        text, humidity_low, humidity_high = _FREEZING_CONDITION
    humidity = humidity_low + digest[2] % (humidity_high - humidity_low + 1)
    wind_kph = round((digest[3] / 255) * 35, 1)
    return {
        "location": {"name": city.name, "country": city.country},
        "current": {
            "temp_c": temp_c,
            "condition": {"text": text},
            "humidity": humidity,
            "wind_kph": wind_kph,
        },
    }
