"""Identity data: phone numbers, BVN and NIN.

Phones are stored in E.164 (+234...). BVN and NIN are never stored in clear: a Fernet-encrypted copy
(for authorised disclosure), a keyed HMAC-SHA256 hash (uniqueness and exact search) and the last four
digits (masked display). The keys are derived from `FIELD_ENCRYPTION_KEY`, or from `SECRET_KEY` when
that is empty; changing the key makes existing hashes unsearchable, so production sets it once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import phonenumbers
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from cooperative.exceptions import ValidationFailed

PHONE_REGION = "NG"
_ID_DIGITS = re.compile(r"^\d{11}$")


def _key_material() -> bytes:
    return (settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY).encode()


def _derived(label: str) -> bytes:
    return hashlib.sha256(b"coopdesk:" + label.encode() + b":" + _key_material()).digest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived("field-encryption")))


def normalise_phone(raw: str, *, field: str = "phone") -> str:
    """'0803 123 4567', '803-123-4567', '2348031234567', '+234 803 123 4567' -> '+2348031234567'."""
    parsed = parse_phone(raw)
    if parsed is None:
        raise ValidationFailed(
            f"'{raw}' is not a valid phone number. Use a Nigerian number such as 0803 123 4567 "
            "or an international one starting with +.",
            field=field,
        )
    return parsed


def parse_phone(raw: str) -> str | None:
    """E.164 form of `raw`, or None when it is not a valid number."""
    text = (raw or "").strip()
    if not text or len(text) > 32:
        return None
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("234") and len(digits) == 13:
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_identity_number(raw: str, *, field: str, label: str) -> str:
    """Exactly 11 digits (spaces and dashes allowed in the input)."""
    digits = re.sub(r"[\s\-]", "", raw or "")
    if not _ID_DIGITS.match(digits):
        raise ValidationFailed(f"{label} must be exactly 11 digits.", field=field)
    return digits


def identity_hash(digits: str) -> str:
    return hmac.new(_derived("identity-hash"), digits.encode(), hashlib.sha256).hexdigest()


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Clear text of an encrypted field; raises ValueError when the key has changed."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("The encrypted value cannot be read with the current key.") from exc


def protected_identity(digits: str) -> dict[str, str]:
    """{"encrypted", "hash", "last4"} for an 11-digit BVN/NIN (already cleaned)."""
    return {"encrypted": encrypt(digits), "hash": identity_hash(digits), "last4": digits[-4:]}


def mask(last4: str) -> str:
    return f"*******{last4}" if last4 else ""
