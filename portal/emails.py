"""Email addresses: validation, normalisation (trim, case-fold, IDNA domains) and domain rules."""

import re

import idna
from email_validator import EmailNotValidError, validate_email

from .decision import N_


class InvalidEmail(ValueError):
    """str() is the whole English message; `short` is the sentence alone (translatable) and
    `detail` what the validator found, if anything."""

    def __init__(self, short: str, detail: str = ""):
        super().__init__(f"{short[:-1]} ({detail})." if detail else short)
        self.short = short
        self.detail = detail


def normalize(raw: str) -> str:
    """The comparable form of an address: trimmed, case-folded, domain in its ASCII (IDNA) form.
    Raises InvalidEmail with a message a person can act on."""
    text = (raw or "").strip()
    if not text:
        raise InvalidEmail(N_("Enter an email address."))
    if len(text) > 254 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidEmail(N_("Enter a valid email address."))
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(N_("Enter a valid email address."), str(exc)) from None
    local, _, _ = info.normalized.rpartition("@")
    return f"{local.casefold()}@{ascii_domain(info.domain)}"


def account_key(raw: str | None) -> str | None:
    """The account an address typed at sign-in or "Forgot password" names — its normalised form,
    as User.email holds it — or None when it names none. The account's lookup and every limit
    kept per account use this one key: no spelling of an address (`owner@examｐｌe。com`) reaches
    the account while escaping its limits."""
    try:
        return normalize(raw or "")
    except InvalidEmail:
        return None


def ascii_domain(domain: str) -> str:
    """The one ASCII form of a domain, for addresses and domain rules alike: UTS 46 without
    transitional mapping (IDNA 2008, as email-validator and browsers do). Python's "idna" codec
    is IDNA 2003, which turns faß.de into fass.de: a rule stored that way misses user@faß.de.
    Raises UnicodeError (idna.IDNAError) for what isn't a domain."""
    return idna.encode(domain, uts46=True, transitional=False).decode("ascii")


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def domain_allowed(email: str, rules: list[tuple[str, str]]) -> bool:
    """rules: (domain, mode) with mode 'allow' or 'block'. A rule covers its subdomains. A block
    always wins; when any allow rule exists, only allowed domains pass."""
    domain = domain_of(email)

    def covers(rule_domain: str) -> bool:
        return domain == rule_domain or domain.endswith("." + rule_domain)

    if any(mode == "block" and covers(d) for d, mode in rules):
        return False
    allows = [d for d, mode in rules if mode == "allow"]
    return not allows or any(covers(d) for d in allows)


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str:
    """"@Example.COM", "*.example.com" or "bücher.example" → the lower-case ASCII (IDNA) domain
    that portal.emails.domain_of compares with, made by the same normaliser as addresses.
    Raises ValueError with words a person can act on."""
    text = (raw or "").strip().lower().rstrip(".")
    text = text.removeprefix("*.").removeprefix("@")
    if "@" in text:
        text = text.rpartition("@")[2]
    try:
        text = ascii_domain(text)
    except UnicodeError:
        raise ValueError("Enter a domain such as example.com.")
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("Enter a domain such as example.com.")
    return text
