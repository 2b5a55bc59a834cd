"""Inventory: is this product in stock, in my size and colour?

Backend ``store`` (``BACKEND_STORE_URL``): ``GET /inventory?product_id=&size=&color=``, answering
the stock of the matching variants and, optionally, every variant the product comes in.
Stock changes slowly compared to a conversation, so answers are cached for a minute.
"""

from fulfillment import NotFound, Response
from fulfillment.backend import backend, echoed, expect, field
from fulfillment.values import as_text
from handlers import app
from handlers._ids import sku_of

inventory = backend("store", spoken_name="our inventory system")

STOCK_CACHE_S = 60
ASK_PRODUCT = "Which product are you looking for? The product code starts with SKU, like SKU-100."


def product_id_of(request):
    """The product code the caller gave, in canonical form (``sku 100`` → ``SKU-100``), or None."""
    return sku_of(as_text(request.param("product_id")))


@app.tag("check-inventory", answers=("in_stock", "quantity"))
def check_inventory(request):
    product_id = product_id_of(request)
    size = as_text(request.param("size"))
    color = as_text(request.param("color"))
    if product_id is None:
        return Response(ASK_PRODUCT).with_outcome("invalid-input")
    if size and size.casefold().replace("-", " ") == "one size":
        size = None  # no size to ask for, nor to say: "the Canvas Tote Bag"

    query = {"product_id": product_id}
    if size:
        query["size"] = size
    if color:
        query["color"] = color
    try:
        stock = inventory.get_json("/inventory", params=query, cache_ttl=STOCK_CACHE_S)
    except NotFound:
        return Response(
            f"I couldn't find a product with the code {product_id}. Could you check the code and tell me again?"
        ).with_outcome("not-found")

    name = field(echoed(stock, "product_id", product_id), "name", str, required=False) or product_id
    quantity = field(stock, "quantity", int)
    made = _made_in(stock, size, color) if size or color else (None, None)
    if made is None:
        # Not "out of stock": nobody will ever have it in that size or colour.
        return Response(f"Sorry, we don't have the {name} in {_variant(size, color)}.").with_outcome(
            "not-found"
        )
    size, color = made  # as the store spells them: "size M", not the caller's "size m"
    what = " ".join(part for part in (color, name) if part) + (f" in size {size}" if size else "")
    if quantity > 0:
        sentence = f"Good news: the {what} is in stock, with {quantity} available."
    else:
        sentence = f"Sorry, the {what} is out of stock right now."
    return Response(sentence).set(in_stock=quantity > 0, quantity=quantity)


def _made_in(stock, size, color):
    """``(size, color)`` as the backend spells them when the product comes in ``size`` and
    ``color`` (either may be None: not asked), else None. When the backend does not list the
    variants, it is taken to (its quantity then says the rest), in the caller's words."""
    variants = field(stock, "variants", list, required=False)
    if not variants:
        return size, color
    for variant in variants:
        variant = expect(variant, dict, what="a variant")
        made_size = field(variant, "size", str, required=False)
        made_color = field(variant, "color", str, required=False)
        if (not size or (made_size or "").casefold() == size.casefold()) and (
            not color or (made_color or "").casefold() == color.casefold()
        ):
            return size and made_size, color and made_color
    return None


def _variant(size, color):
    """ "size 11", "purple", "purple in size 11"."""
    return " in ".join(part for part in (color, f"size {size}" if size else None) if part)
