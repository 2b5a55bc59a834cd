"""The transport adapter's own parts: its header reading must equal http.client's."""

import http.client
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from fulfillment.transport import _parse_headers

NAMES = st.sampled_from(["Content-Type", "content-length", "Set-Cookie", "X-A", "Bad Name", "", "X_B"])
VALUES = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=20)
LINE = st.one_of(
    st.builds(
        lambda n, s, v, e: f"{n}:{s}{v}{e}",
        NAMES,
        st.sampled_from(["", " ", "\t", "  "]),
        VALUES,
        st.sampled_from(["\r\n", "\n"]),
    ),
    st.builds(lambda v: f" {v}\r\n", VALUES),  # a folded continuation line
    st.builds(lambda v: f"{v}\r\n", VALUES),  # no colon at all
)


@settings(max_examples=400)
@given(st.lists(LINE, max_size=8), st.sampled_from(["\r\n", "\n", ""]))
def test_headers_read_as_http_client_reads_them(lines, end):
    block = ("".join(lines) + end).encode("iso-8859-1")
    ours = _parse_headers(io.BytesIO(block))
    theirs = http.client.parse_headers(io.BytesIO(block))
    assert ours.items() == theirs.items()
    for name in ("content-length", "transfer-encoding", "connection", "content-type"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)
