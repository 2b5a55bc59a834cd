"""Customers: who is calling, and is that a usable email address?

Backend ``store`` (``BACKEND_STORE_URL``): ``GET /customers?email=`` answers a list.
"""

from fulfillment import Response
from fulfillment.backend import backend, echoed, expect, field
from fulfillment.values import as_text
from handlers import app
from handlers._ids import spoken_email

customers = backend("store", spoken_name="our customer system")


def email_param(request):
    """The parameter the caller's email is in: the form's own (``customer_email`` or
    ``email``), else whichever holds a value, ``customer_email`` first."""
    for name in ("customer_email", "email"):
        if request.form_param(name) is not None:  # what the caller is being asked right now
            return name
    if request.param("customer_email") is None and request.param("email") is not None:
        return "email"
    return "customer_email"


def email_of(request):
    # Speech often gives "jane dot doe at example dot com".
    return spoken_email(as_text(request.param(email_param(request))))


@app.tag("validate-email")
def validate_email(request):
    """Form validation: re-prompt when the email address does not parse."""
    name = email_param(request)
    if request.unanswered(name):
        return Response().with_outcome("no-input")
    email = email_of(request)
    if email is None:
        return (
            Response("Sorry, I didn't catch a valid email address. Could you say it again, slowly?")
            .invalidate(name)
            .with_outcome("invalid-input")
        )
    return Response().set({name: email})


@app.tag("get-customer-info", answers=("customer_name", "customer_id", "customer_match_count"))
def get_customer_info(request):
    email = email_of(request)
    if email is None:
        return Response("What's the email address on your account?").with_outcome("invalid-input")
    answer = expect(customers.get_json("/customers", params={"email": email}), list)
    matches = [echoed(expect(match, dict, what="a match"), "email", email) for match in answer]
    if not matches:
        return Response(
            "I couldn't find an account with that email address. Could you check it and tell me again?"
        ).with_outcome("not-found")
    if len(matches) > 1:
        # Several people share this address (a family, an office): reading out the first
        # one's account would hand a caller someone else's data.
        return (
            Response(
                "I found more than one account with that email address, "
                "so I need one more detail to be sure it's you."
            )
            .set(customer_match_count=len(matches))
            .with_outcome("ambiguous")
        )
    name = field(matches[0], "name", str)
    who = how_to_address(name)
    return Response(f"Thanks, {who}. I found your account." if who else "Thanks. I found your account.").set(
        customer_name=name,
        customer_id=field(matches[0], "id", (str, int)),
    )


# Titles said with the last name, and those said with the first.
_TITLES = {"dr", "mr", "mrs", "ms", "mx", "miss", "prof"}
_FIRST_NAME_TITLES = {"sir", "dame"}
# What may follow a full name after a comma without making it "Last, First".
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq", "dds", "cpa", "mba", "rn"}


def how_to_address(name):
    """What to call a customer by: "Ada" for "Ada Lovelace" and for "Lovelace, Ada", "Dr.
    Hopper" for "Dr. Grace Hopper"; "" when the name gives nothing to say."""
    surname, comma, given = name.partition(",")
    if given.replace(".", "").strip().lower() in _SUFFIXES:  # "Grace Hopper, PhD"
        given = ""
    last_first = bool(comma and given.strip())  # "Lovelace, Ada"
    words = (given if last_first else surname).split()
    if not words:
        return ""
    if len(words) > 1 and words[0].lower() in _FIRST_NAME_TITLES:
        return f"{words[0]} {words[1]}"  # "Sir Ian", "Dame Judi": the first name, not the last
    if len(words) > 1 and words[0].rstrip(".").lower() in _TITLES:
        # A title with a last name ("Dr. Hopper"): the listed surname, or the last word.
        return f"{words[0]} {surname.strip() if last_first else words[-1]}"
    return words[0].rstrip(".,;:")
