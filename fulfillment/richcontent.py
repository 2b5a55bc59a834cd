"""Dialogflow Messenger rich content elements, for ``Response.rich()``.

Each function returns one element; a card is a list of elements:

    >>> from fulfillment import Response, richcontent as rc
    >>> reply = Response("Here is your order.").rich(
    ...     [rc.info("Order ORD-1", subtitle="Shipped"), rc.chips("Track it", "Return it")])

Field names follow the Dialogflow Messenger reference (response types ``info``,
``description``, ``image``, ``button``, ``list``, ``accordion``, ``chips``, ``divider``).
Empty optional fields are left out.
"""


def _element(kind, **fields):
    return {"type": kind, **{k: v for k, v in fields.items() if v not in (None, "", [], {})}}


def _image(src):
    return {"src": {"rawUrl": src}} if src else None


def info(title, *, subtitle=None, image=None, link=None):
    """A card with a title, subtitle, optional image and link."""
    return _element("info", title=title, subtitle=subtitle, image=_image(image), actionLink=link)


def description(title, *lines):
    """A title and lines of text."""
    return _element("description", title=title, text=list(lines))


def image(url, *, alt=""):
    return _element("image", rawUrl=url, accessibilityText=alt)


def button(text, *, link=None, event=None, icon=None):
    """A button that opens ``link`` or sends the custom ``event`` ({"name": …}) to the agent."""
    return _element(
        "button",
        text=text,
        link=link,
        event={"event": event} if isinstance(event, str) else event,
        icon={"type": icon} if icon else None,
    )


def list_item(title, *, subtitle=None, event=None):
    """One entry of a list; choosing it sends ``event`` to the agent."""
    return _element(
        "list", title=title, subtitle=subtitle, event={"event": event} if isinstance(event, str) else event
    )


def accordion(title, text, *, subtitle=None, image=None):
    """A collapsible card."""
    return _element("accordion", title=title, subtitle=subtitle, image=_image(image), text=text)


def chips(*options):
    """Suggestion chips: each option is a string, or a dict with ``text``/``link``/``image``."""
    return _element(
        "chips",
        options=[{"text": o} if isinstance(o, str) else dict(o) for o in options],
    )


def divider():
    return {"type": "divider"}
