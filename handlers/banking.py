"""Banking: what's my balance, what did I spend recently?

Backend ``bank`` (``BACKEND_BANK_URL``): ``GET /accounts/{id}``,
``GET /accounts/{id}/transactions?limit=5``.
"""

import re

from fulfillment import NotFound, Response
from fulfillment import richcontent as rc
from fulfillment.backend import backend, echoed, expect, field
from fulfillment.values import as_date, as_text
from handlers import app
from handlers._ids import SEPARATORS, canonical, heard
from handlers._words import day, money

accounts = backend("bank", spoken_name="our banking system")

ACCOUNT_ID = re.compile(r"^ACC-?(\d{8})$", re.IGNORECASE)
ASK_ACCOUNT = "What's your account number? It starts with ACC and has eight digits."
NO_SUCH_ACCOUNT = "I couldn't find account {account_id}. Could you check the number and tell me again?"
RECENT = 5


def account_id_of(request):
    """The account id the caller gave (``ACC-12345678``), or None. Unlike order numbers,
    grouped digits are joined: there are always eight ("ACC 1234 5678")."""
    raw = as_text(request.param("account_id")) or as_text(request.param("account_number"))
    raw = heard(raw)  # "ACC-12345678." as speech-to-text ends it
    # "ACC 1234 5678", "ACC-1234-5678", "A C C 1 2 3 4 5 6 7 8": every separator goes.
    match = ACCOUNT_ID.match(SEPARATORS.sub("", raw)) if raw else None
    return canonical("ACC", match[1]) if match else None


@app.tag("account-balance", answers=("balance", "available_balance"))
def account_balance(request):
    account_id = account_id_of(request)
    if account_id is None:
        return Response(ASK_ACCOUNT).with_outcome("invalid-input")
    try:
        account = echoed(accounts.get_json(f"/accounts/{account_id}"), "account_id", account_id)
    except NotFound:
        return Response(NO_SUCH_ACCOUNT.format(account_id=account_id)).with_outcome("not-found")

    currency = field(account, "currency", str)
    balance = field(account, "balance", (int, float))
    available = field(account, "available_balance", (int, float))
    sentence = f"Your balance is {money(balance, currency)}"
    if available != balance:
        if available <= 0:  # pending payments take it all
            sentence += ", and nothing is available to spend right now"
        elif available < balance:
            sentence += f", and {money(available, currency)} of it is available to spend"
        else:  # an overdraft or a credit line: more than the balance
            sentence += f", and you have {money(available, currency)} available to spend"
    return Response(sentence + ".").set(account_id=account_id, balance=balance, available_balance=available)


@app.tag("recent-transactions", answers=("transaction_count",))
def recent_transactions(request):
    account_id = account_id_of(request)
    if account_id is None:
        return Response(ASK_ACCOUNT).with_outcome("invalid-input")
    try:
        history = accounts.get_json(f"/accounts/{account_id}/transactions", params={"limit": RECENT})
    except NotFound:
        return Response(NO_SUCH_ACCOUNT.format(account_id=account_id)).with_outcome("not-found")

    transactions = field(echoed(history, "account_id", account_id), "transactions", list)[:RECENT]
    if not transactions:
        return Response("There are no recent transactions on that account.").set(transaction_count=0)

    lines = []
    for item in transactions:
        item = expect(item, dict, what="a transaction")
        when = as_date(field(item, "date", str))
        value = field(item, "amount", (int, float))
        amount = money(value, field(item, "currency", str))
        what = field(item, "description", str)
        # The bank's own description, then the amount: "at" would suit a shop ("Coffee
        # Corner") but not "Rent share" or "Salary: …", and a bank does not say which it is.
        signed = amount if value < 0 else f"plus {amount}"  # money() says "minus" itself
        lines.append(f"{day(when) if when else 'recently'}, {what}, {signed}")
    count = len(lines)
    heading = "Here is your last transaction" if count == 1 else f"Here are your last {count} transactions"
    return (
        Response(f"{heading}: " + "; ".join(lines) + ".")
        .rich(rc.description("Recent transactions", *lines))
        .set(transaction_count=count)
    )
