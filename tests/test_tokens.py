"""Signed link tokens: reproducible, unforgeable, kind-bound, rotatable."""

from portal import tokens

KEYS = ["new-key"]


def test_token_round_trip_and_reproducible():
    token = tokens.make_token(KEYS, tokens.LINK, 42, 3)
    assert token == tokens.make_token(KEYS, tokens.LINK, 42, 3)
    assert tokens.read_token(KEYS, tokens.LINK, token) == (42, 3)


def test_tampered_truncated_and_garbled_tokens_are_refused():
    token = tokens.make_token(KEYS, tokens.LINK, 42, 3)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, token[:-5], token[5:], "", "garbage", "a.b", "%00", "x" * 500,
                token.replace(".", "")):
        assert tokens.read_token(KEYS, tokens.LINK, bad) is None


def test_kind_is_part_of_the_signature():
    link_token = tokens.make_token(KEYS, tokens.LINK, 42, 1)
    assert tokens.read_token(KEYS, tokens.INVITE, link_token) is None


def test_rotated_keys_keep_old_links_until_dropped():
    old = tokens.make_token(["old-key"], tokens.INVITE, 7, 1)
    assert tokens.read_token(["new-key", "old-key"], tokens.INVITE, old) == (7, 1)
    new = tokens.make_token(["new-key", "old-key"], tokens.INVITE, 7, 1)
    assert tokens.read_token(["new-key"], tokens.INVITE, new) == (7, 1)  # signed with the new
    assert tokens.read_token(["new-key"], tokens.INVITE, old) is None


def test_payload_must_be_two_positive_integers():
    from itsdangerous import URLSafeSerializer

    for payload in ([1], [1, "2"], {"a": 1}, [0, 1], [True, 1], [1, 2, 3]):
        forged = URLSafeSerializer(KEYS, salt="guestgate.guest-link").dumps(payload)
        assert tokens.read_token(KEYS, tokens.LINK, forged) is None


def test_a_token_opens_only_its_kind_with_its_keys():
    token = tokens.make_token(KEYS, tokens.LINK, 99, 2)
    assert [tokens.read_token(KEYS, tokens.LINK, token) for _ in range(2)] == [(99, 2)] * 2
    assert tokens.read_token(KEYS, tokens.INVITE, token) is None
    assert tokens.read_token(["another-key"], tokens.LINK, token) is None
