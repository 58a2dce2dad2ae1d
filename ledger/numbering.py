"""Account numbers: 10 digits, NUBAN-style (9-digit serial + CBN check digit over the institution code).

CBN's NUBAN rule (../shared/domain/payments-and-nigeria.md §3): weights 3,7,3,3,7,3 over the 6-digit
institution code (3-digit DMB codes get "000", 5-digit OFI codes a leading "9") then 3,7,3,3,7,3,3,7,3
over the serial; check digit = (10 − Σ mod 10) mod 10.
"""

from django.conf import settings

from cooperative.sequences import next_value

WEIGHTS = (3, 7, 3, 3, 7, 3, 3, 7, 3, 3, 7, 3, 3, 7, 3)


def pad_institution_code(code: str) -> str:
    digits = "".join(ch for ch in str(code) if ch.isdigit())
    padded = {3: "000" + digits, 5: "9" + digits, 6: digits}.get(len(digits))
    if padded is None:
        raise ValueError(f"Institution code {code!r} must have 3, 5 or 6 digits.")
    return padded


def check_digit(institution_code: str, serial9: str) -> int:
    if len(serial9) != 9 or not serial9.isdigit():
        raise ValueError("The serial must be 9 digits.")
    total = sum(
        int(d) * w for d, w in zip(pad_institution_code(institution_code) + serial9, WEIGHTS, strict=True)
    )
    return (10 - total % 10) % 10


def is_valid_nuban(institution_code: str, account_number: str) -> bool:
    return (
        len(account_number) == 10
        and account_number.isdigit()
        and check_digit(institution_code, account_number[:9]) == int(account_number[9])
    )


def next_account_number() -> str:
    """The next account number; the serial comes from a locked counter, so it is race-free."""
    serial = f"{next_value('account_serial'):09d}"
    if len(serial) > 9:
        raise OverflowError("Account serials exhausted.")
    return serial + str(check_digit(settings.COOP_INSTITUTION_CODE, serial))
