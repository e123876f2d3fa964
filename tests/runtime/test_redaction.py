import pytest

from trimtab.runtime.redaction import Redactor, compile_rules, mask, redact, scrub_secrets

TEXT = ("Contact jane.doe+qa@example.co.uk or +49 30 1234567; card 4111 1111 1111 1111, "
        "IBAN DE89 3704 0044 0532 0130 00. Key: Bearer abcDEF123456789xyz")


def test_redacted_mode_masks_every_builtin_kind():
    out = redact("redacted", (), TEXT)
    assert out == ("Contact [EMAIL] or [PHONE]; card [CARD], IBAN [IBAN]. Key: [SECRET]")


@pytest.mark.parametrize("card", ["4111111111111111", "4111-1111-1111-1111",
                                  "5500 0000 0000 0004", "378282246310005"])
def test_cards_that_pass_luhn_are_masked(card):
    assert mask(f"paid with {card} today") == "paid with [CARD] today"


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "1234567890123", "0000000000000000"])
def test_numbers_that_fail_luhn_are_not_cards(number):
    assert "[CARD]" not in mask(f"order {number}")


def test_iban_needs_a_valid_checksum_and_stops_before_trailing_words():
    assert mask("to GB82 WEST 1234 5698 7654 32 PLEASE") == "to [IBAN] PLEASE"
    assert mask("to DE89370400440532013000.") == "to [IBAN]."
    assert "[IBAN]" not in mask("ref DE89 3704 0044 0532 0130 01")


@pytest.mark.parametrize("phone", ["+49 30 1234567", "(555) 123-4567", "030 1234 5678",
                                   "+1-202-555-0143", "0049301234567", "06 12 34 56 78"])
def test_phones(phone):
    assert mask(f"call {phone} now") == "call [PHONE] now"


@pytest.mark.parametrize("text", ["on 2024-01-15", "order 123456789", "pi is 3.14159265",
                                  "version 1.2.3", "at 12:30", "on 15.01.2024", "ticket #4521"])
def test_look_alikes_are_not_phones(text):
    assert mask(text) == text


@pytest.mark.parametrize("secret", [
    "sk-proj-abcdefghijklmnop1234", "sk-ant-api03-abcdefghijklmnopqrst",
    "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 36, "xoxb-1234567890-abcdef",
    "api_key=abcd1234efgh", "password: hunter2hunter2", "Authorization: Bearer eyJhbGciOi.x.y",
])
def test_credentials_are_masked_in_every_mode_that_keeps_text(secret):
    for mode in ("full", "redacted"):
        out = redact(mode, (), f"here: {secret} end")
        assert "[SECRET]" in out and secret.split()[-1].split("=")[-1] not in out


def test_full_keeps_personal_data_but_not_keys():
    assert redact("full", (), "jane@example.com sk-abcdefghijklmnopqrstuv") == \
        "jane@example.com [SECRET]"


def test_hashed_and_metadata_modes():
    hashed = redact("hashed", (), "same text")
    assert hashed == redact("hashed", (), "same text") and hashed.startswith("sha256:")
    assert "same" not in hashed
    keyed = redact("hashed", (), "same text", salt="s3")
    assert keyed.startswith("hmac-sha256:") and keyed != redact("hashed", (), "same text",
                                                                  salt="other")
    assert redact("metadata", (), "anything") is None
    assert redact("redacted", (), None) is None
    with pytest.raises(ValueError, match="unknown logging mode"):
        redact("verbose", (), "x")  # type: ignore[arg-type]


def test_custom_rules_run_first_with_their_own_placeholder():
    rules = compile_rules([{"name": "employee-id", "pattern": r"EMP-\d{6}"},
                           {"name": "contract", "pattern": r"(?i)ctr/\d+", "replace": "<C>"}])
    assert redact("redacted", rules, "EMP-123456 signed CTR/20240115") == \
        "[EMPLOYEE_ID] signed <C>"
    assert redact("full", rules, "EMP-123456") == "EMP-123456"


def test_redactor_walks_messages_and_keeps_structure():
    redactor = Redactor.from_spec({"logging": "redacted",
                                   "redact": [{"name": "order", "pattern": r"ORD-\d+"}]})
    messages = [
        {"role": "user", "content": "I am bob@example.com, order ORD-991"},
        {"role": "user", "content": [{"type": "text", "text": "IBAN GB82WEST12345698765432"},
                                     {"type": "image_url", "image_url": {"url": "http://x"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
         "function": {"name": "lookup", "arguments": '{"email": "bob@example.com"}'}}]},
    ]
    out = redactor.messages(messages)
    assert out[0] == {"role": "user", "content": "I am [EMAIL], order [ORDER]"}
    assert out[1]["content"][0]["text"] == "IBAN [IBAN]"
    assert out[1]["content"][1] == messages[1]["content"][1]
    assert out[2]["tool_calls"][0]["function"]["arguments"] == '{"email": "[EMAIL]"}'
    assert messages[0]["content"].startswith("I am bob")  # the input is not modified
    assert redactor.value({"a": ["x@y.io", 3]}) == {"a": ["[EMAIL]", 3]}


def test_default_mode_is_redacted_and_metadata_drops_text():
    assert Redactor.from_spec(None).mode == "redacted"
    meta = Redactor("metadata")
    assert not meta.keeps_text
    assert meta.message({"role": "user", "content": "secret"}) == {"role": "user",
                                                                     "content": None}


def test_scrub_secrets_by_value():
    assert scrub_secrets("key was plain-value-123 ok", ["plain-value-123"]) == \
        "key was [SECRET] ok"


def test_the_length_shortcut_never_skips_a_text_a_rule_could_match():
    import re

    from trimtab.runtime.redaction import BUILTIN_RULES, SHORTEST

    for rule in BUILTIN_RULES:  # the regex engine's own lower bound on a match's length
        assert SHORTEST[rule.name] <= re._parser.parse(rule.pattern.pattern).getwidth()[0]
    assert mask("a@b.cc") == "[EMAIL]" and mask("token=abcdef") == "[SECRET]"


@pytest.mark.parametrize("text", [
    "Authorization: BEARER abcdefgh12345678", "bearer\tabcdefgh12",
    "use sk-ant-abcdefghijklmnop1234",
    "AKIAABCDEFGHIJKLMNOP", "ASIAABCDEFGHIJKLMNOP", "ghp_" + "a" * 36, "xoxb-1234567890ab",
    "AIza" + "B" * 35, "API_KEY = 'abcdef12'", "Secret: hunter22", "TOKEN=abcdefgh",
    "passwd: correct-horse", "\u017fecret=abcdefgh", "to\u212aen: abcdefg", "ap\u0130-key=abcdefgh",
    "ap\u0131key: abcdefgh",
])
def test_the_secret_prefilter_passes_every_text_the_pattern_matches(text):
    from trimtab.runtime.redaction import SECRETS_RULE, _may_hold_secret

    assert SECRETS_RULE.pattern.search(text)  # each one is a credential the pattern knows
    assert _may_hold_secret(text)
    assert "[SECRET]" in mask(f"x {text} y")


def test_the_secret_prefilter_agrees_with_the_pattern_on_random_texts():
    import random

    from trimtab.runtime.redaction import SECRETS_RULE, _may_hold_secret

    pieces = ["bearer", "Bearer", "BEARER", "sk-", "ant-", "AKIA", "ASIA", "ghp_", "gho_", "xoxb-",
              "AIza", "api", "API", "_", "-", "key", "KEY", "secret", "token", "passwd", "password",
              "=", ":", " ", "\t", "'", "\u017f", "\u212a", "\u0130", "\u0131", "a", "Z", "0", "9",
              "abcdefgh", "ABCDEFGHIJKLMNOP", "0123456789", "é", "ß"]
    rng = random.Random(7)
    matched = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        if SECRETS_RULE.pattern.search(text):
            matched += 1
            assert _may_hold_secret(text), text
    assert matched > 500  # the random texts do reach the pattern
    assert not _may_hold_secret("The charger sparks when plugged in and smells of smoke.")
