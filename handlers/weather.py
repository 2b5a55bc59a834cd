"""Weather: what's it like in a city right now?

Backend ``weather`` (``BACKEND_WEATHER_URL``, API key in ``BACKEND_WEATHER_KEY``): a
third-party API with the weatherapi.com shape, ``GET /weather/current?city=``. The weather
does not change within ten minutes, and the API is billed per call: answers are cached.
"""

from fulfillment import NotFound, Response
from fulfillment.backend import backend, field
from fulfillment.values import as_text
from handlers import app
from handlers._ids import heard

weather = backend("weather", spoken_name="the weather service")

WEATHER_CACHE_S = 600

# The API's conditions are adjectives ("Sunny", "Partly cloudy") or nouns ("Mist", "Moderate
# rain", "Patchy snow possible"): "16 degrees and sunny", but "16 degrees, with light rain".
_SAID_AS_ADJECTIVE = ("sunny", "clear", "cloudy", "overcast")


@app.tag("get-weather", answers=("weather_city", "temperature_c", "weather_condition"))
def get_weather(request):
    city = heard(as_text(request.param("city")))  # "paris." as speech-to-text ends it
    if city is None:
        return Response("Which city would you like the weather for?").with_outcome("invalid-input")
    try:
        report = weather.get_json(
            "/weather/current", params={"city": city.title()}, cache_ttl=WEATHER_CACHE_S
        )
    except NotFound:
        return Response(f"Sorry, I don't have the weather for {city}.").with_outcome("not-found")

    place = field(field(report, "location", dict), "name", str)
    now = field(report, "current", dict)
    temperature = round(field(now, "temp_c", (int, float)))
    condition = field(field(now, "condition", dict), "text", str).lower()
    degrees = "degree" if abs(temperature) == 1 else "degrees"
    joined = f" and {condition}" if condition.endswith(_SAID_AS_ADJECTIVE) else f", with {condition}"
    return Response(f"Right now in {place} it's {temperature} {degrees} Celsius{joined}.").set(
        weather_city=place, temperature_c=temperature, weather_condition=condition
    )
