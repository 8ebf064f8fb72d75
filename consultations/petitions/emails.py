"""Normalising email addresses so one person signs a petition once.

As e-petitions does: the address is lower-cased; where the provider ignores them, dots in the
local part (Gmail) and ``+tags`` are dropped; alias domains map to one (googlemail.com is
gmail.com). ``Jo.Bloggs+petition@GoogleMail.com`` and ``jobloggs@gmail.com`` are one signer.
"""

ALIAS_DOMAINS = {
    "googlemail.com": "gmail.com",
    "me.com": "icloud.com",
    "mac.com": "icloud.com",
    "hotmail.co.uk": "hotmail.co.uk",
}
DOTS_IGNORED = {"gmail.com"}
PLUS_TAGS = {
    "gmail.com",
    "icloud.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "live.com",
    "live.co.uk",
    "protonmail.com",
    "proton.me",
    "fastmail.com",
}


def normalise_email(address: str) -> str:
    local, _, domain = address.strip().lower().rpartition("@")
    domain = ALIAS_DOMAINS.get(domain, domain)
    if domain in PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain in DOTS_IGNORED:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def email_domain(address: str) -> str:
    return normalise_email(address).rpartition("@")[2]
