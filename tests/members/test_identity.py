import pytest

from cooperative.exceptions import ValidationFailed
from members import identity

pytestmark = pytest.mark.django_db  # the shared autouse cache fixture uses the database cache


@pytest.mark.parametrize(
    "typed",
    [
        "08031234567",
        "0803 123 4567",
        "0803-123-4567",
        "8031234567",
        "+2348031234567",
        "+234 803 123 4567",
        "2348031234567",
        "002348031234567",
        "(0803) 123-4567",
    ],
)
def test_nigerian_phone_in_any_format_becomes_e164(typed):
    assert identity.normalise_phone(typed) == "+2348031234567"


def test_foreign_number_with_country_code_is_kept():
    assert identity.normalise_phone("+44 20 7946 0958") == "+442079460958"


@pytest.mark.parametrize("typed", ["12345", "0803123", "080312345678901", "phone", "+234 000 000 0000", ""])
def test_malformed_phone_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationFailed) as error:
        identity.normalise_phone(typed)
    assert error.value.field == "phone"
    assert "not a valid phone number" in str(error.value)


@pytest.mark.parametrize("typed", ["1234567890", "123456789012", "2221234567a", "abcdefghijk"])
def test_bvn_must_be_exactly_eleven_digits(typed):
    with pytest.raises(ValidationFailed) as error:
        identity.clean_identity_number(typed, field="bvn", label="BVN")
    assert error.value.field == "bvn"
    assert "exactly 11 digits" in str(error.value)


def test_identity_numbers_are_encrypted_hashed_and_masked():
    # when
    protected = identity.protected_identity("22212345678")
    # then nothing stored reads as the number, yet the owner can decrypt it
    assert "22212345678" not in protected["encrypted"]
    assert "22212345678" not in protected["hash"]
    assert identity.decrypt(protected["encrypted"]) == "22212345678"
    assert protected["last4"] == "5678"
    assert identity.mask(protected["last4"]) == "*******5678"


def test_identity_hash_is_keyed(settings):
    plain_sha = __import__("hashlib").sha256(b"22212345678").hexdigest()
    first = identity.identity_hash("22212345678")
    assert first != plain_sha
    settings.FIELD_ENCRYPTION_KEY = "another-key"
    assert identity.identity_hash("22212345678") != first
