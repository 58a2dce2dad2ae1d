import pytest

from members.models import Member
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/members/"


def _new(branch, **extra):
    return {
        "first_name": "Folasade",
        "last_name": "Adeyemi",
        "phone": "0816 456 7804",
        "branch": str(branch.pk),
        **extra,
    }


def test_teller_registers_a_member_and_sees_bvn_masked(api_as, teller, branch):
    # when
    response = api_as(teller).post(
        URL, _new(branch, bvn="22212345604", nin="70012345604", email="Fola@Example.ng")
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["member_number"] == "MEM00001"
    assert body["phone"] == "+2348164567804"
    assert body["email"] == "fola@example.ng"
    assert body["bvn_masked"] == "*******5604"
    assert body["nin_masked"] == "*******5604"
    assert body["kyc_status"] == "PENDING"
    assert "bvn" not in body
    assert "nin" not in body
    assert "22212345604" not in response.content.decode()
    detail = api_as(teller).get(f"{URL}{body['id']}/").json()
    assert detail["bvn_masked"] == "*******5604"
    assert "22212345604" not in str(detail)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"bvn": "123"}, "bvn"),
        ({"nin": "ABCDEFGHIJK"}, "nin"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"email": "nope"}, "email"),
        ({"email": "a" * 250 + "@example.ng"}, "email"),  # longer than the 254 the column holds
        ({"next_of_kin_phone": "not a phone"}, "next_of_kin_phone"),
        ({"gender": "Z"}, "gender"),
        ({"branch": "not-a-uuid"}, "branch"),
        ({"branch": "00000000-0000-0000-0000-000000000000"}, "branch"),
        ({"first_name": ""}, "first_name"),
    ],
)
def test_bad_input_is_a_400_problem_naming_the_field(api_as, teller, branch, payload, field):
    response = api_as(teller).post(URL, {**_new(branch), **payload})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in [e["field"] for e in response.json()["errors"]]
    assert Member.objects.count() == 0


def test_missing_fields_are_named(api_as, teller):
    response = api_as(teller).post(URL, {})
    assert response.status_code == 400
    assert {"first_name", "last_name", "phone", "branch"} <= {e["field"] for e in response.json()["errors"]}


def test_non_json_body_is_a_4xx_not_a_500(api_as, teller):
    response = api_as(teller).post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_duplicate_identity_is_a_409_naming_the_existing_member(api_as, teller, branch):
    first = api_as(teller).post(URL, _new(branch, bvn="22212345604")).json()
    response = api_as(teller).post(
        URL, _new(branch, first_name="Other", phone="+234 816 456 7804", bvn="22212345699")
    )
    assert response.status_code == 409
    problem = response.json()
    assert first["member_number"] in problem["detail"]
    assert problem["errors"][0]["field"] == "phone"
    response = api_as(teller).post(
        URL, _new(branch, first_name="Other", phone="0816 000 0000", bvn="22212345604")
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "bvn"


def test_creating_a_member_in_another_branch_is_refused_clearly(api_as, teller, other_branch):
    response = api_as(teller).post(URL, _new(other_branch))
    assert response.status_code == 403
    assert "branch you do not work in" in response.json()["detail"]
    assert Member.objects.count() == 0


def test_list_is_branch_scoped_and_other_branches_are_404(api_as, teller, member, other_member):
    client = api_as(teller)
    listed = client.get(URL).json()
    assert [m["member_number"] for m in listed["results"]] == [member.member_number]
    assert client.get(f"{URL}{other_member.pk}/").status_code == 404
    assert client.patch(f"{URL}{other_member.pk}/", {"city": "Kano"}).status_code == 404
    assert client.get(f"{URL}not-a-uuid/").status_code == 404


def test_list_filtered_by_another_branch_shows_nothing(api_as, teller, member, other_member, other_branch):
    response = api_as(teller).get(URL, {"branch": str(other_branch.pk)})
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "term", ["08061234567", "+2348061234567", "806 123 4567", "nwosu", "chiamaka nwosu", "22212345678"]
)
def test_api_search_in_every_format(api_as, teller, member, term):
    Member.objects.filter(pk=member.pk).update(
        bvn_hash=__import__("members.identity", fromlist=["x"]).identity_hash("22212345678")
    )
    MemberFactory(branch=member.branch, first_name="Zainab", last_name="Musa", phone="+2348099999999")
    response = api_as(teller).get(URL, {"search": term})
    assert [m["member_number"] for m in response.json()["results"]] == [member.member_number]


def test_api_search_does_not_reach_other_branches(api_as, teller, member, other_member):
    response = api_as(teller).get(URL, {"search": "Garba"})
    assert response.json()["results"] == []


def test_filters_and_ordering(api_as, teller, branch):
    MemberFactory(branch=branch, last_name="Zubairu", status="DORMANT")
    MemberFactory(branch=branch, last_name="Abiola", kyc_status="VERIFIED")
    client = api_as(teller)
    assert [m["last_name"] for m in client.get(URL, {"status": "DORMANT"}).json()["results"]] == ["Zubairu"]
    assert [m["last_name"] for m in client.get(URL, {"kyc_status": "VERIFIED"}).json()["results"]] == [
        "Abiola"
    ]
    ordered = client.get(URL, {"ordering": "last_name"}).json()["results"]
    assert [m["last_name"] for m in ordered] == ["Abiola", "Zubairu"]
    assert client.get(URL, {"status": "NOPE"}).status_code == 400
    # ordering by a field outside the whitelist is ignored, not an error
    assert client.get(URL, {"ordering": "bvn_hash"}).status_code == 200


def test_partial_update_normalises_and_keeps_bvn_masked(api_as, teller, member):
    response = api_as(teller).patch(f"{URL}{member.pk}/", {"phone": "0805 111 2222", "bvn": "22212340000"})
    assert response.status_code == 200, response.json()
    assert response.json()["phone"] == "+2348051112222"
    assert response.json()["bvn_masked"] == "*******0000"
    bad = api_as(teller).patch(f"{URL}{member.pk}/", {"nin": "12"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "nin"


def test_put_and_delete_are_refused(api_as, teller, member):
    client = api_as(teller)
    assert client.put(f"{URL}{member.pk}/", {"first_name": "X"}).status_code == 405
    response = client.delete(f"{URL}{member.pk}/")
    assert response.status_code == 405
    assert "exit" in response.json()["detail"]
    assert Member.objects.filter(pk=member.pk).exists()


def test_anonymous_callers_get_401(api_client, member):
    assert api_client.get(URL).status_code == 401
    assert api_client.delete(f"{URL}{member.pk}/").status_code == 401


def test_exit_endpoint(api_as, manager, teller, member):
    assert api_as(teller).post(f"{URL}{member.pk}/exit/", {"reason": "Moving"}).status_code == 403
    missing = api_as(manager).post(f"{URL}{member.pk}/exit/", {})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "reason"
    response = api_as(manager).post(f"{URL}{member.pk}/exit/", {"reason": "Moving to Ghana"})
    assert response.status_code == 200
    assert response.json()["status"] == "EXITED"
    again = api_as(manager).post(f"{URL}{member.pk}/exit/", {"reason": "again"})
    assert again.status_code == 409


def test_exit_endpoint_refuses_a_member_with_money(api_as, manager, member):
    from decimal import Decimal

    from ledger.models import Account

    Account.objects.create(
        account_number="2000000011",
        name="Savings",
        member=member,
        type="SAVINGS",
        normal_balance="CREDIT",
        branch=member.branch,
        balance=Decimal("250.00"),
    )
    response = api_as(manager).post(f"{URL}{member.pk}/exit/", {"reason": "Moving"})
    assert response.status_code == 409
    assert "2000000011" in response.json()["detail"]


def test_exit_endpoint_out_of_branch_is_404(api_as, manager, other_member):
    assert api_as(manager).post(f"{URL}{other_member.pk}/exit/", {"reason": "x"}).status_code == 404


def test_kyc_endpoint(api_as, manager, member):
    url = f"{URL}{member.pk}/kyc/"
    bad = api_as(manager).post(url, {"decision": "MAYBE"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "decision"
    no_reason = api_as(manager).post(url, {"decision": "REJECTED"})
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["field"] == "reason"
    rejected = api_as(manager).post(url, {"decision": "REJECTED", "reason": "Photo unclear"})
    assert rejected.status_code == 200
    assert rejected.json()["kyc_status"] == "REJECTED"
    assert rejected.json()["kyc_rejection_reason"] == "Photo unclear"


def test_kyc_endpoint_enforces_four_eyes(api_as, make_staff, branch, member):
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    Member.objects.filter(pk=member.pk).update(created_by=boss, nin_hash="x" * 64, nin_last4="1234")
    response = api_as(boss).post(f"{URL}{member.pk}/kyc/", {"decision": "VERIFIED"})
    assert response.status_code == 403
    assert "another colleague" in response.json()["detail"]


def test_status_endpoint(api_as, teller, member):
    url = f"{URL}{member.pk}/status/"
    assert api_as(teller).post(url, {"status": "EXITED", "reason": "x"}).status_code == 400
    response = api_as(teller).post(url, {"status": "SUSPENDED", "reason": "Fraud investigation"})
    assert response.status_code == 200
    assert response.json()["status"] == "SUSPENDED"


def test_patch_refuses_fields_it_cannot_set_instead_of_ignoring_them(api_as, teller, member):
    response = api_as(teller).patch(f"{URL}{member.pk}/", {"status": "EXITED", "member_number": "MEM99999"})
    assert response.status_code == 400
    problem = response.json()
    assert {e["field"] for e in problem["errors"]} == {"status", "member_number"}
    assert "/status/" in problem["detail"]
    member.refresh_from_db()
    assert member.status == "ACTIVE"


def test_accountant_reads_but_cannot_register(api_as, accountant, branch, member):
    client = api_as(accountant)
    assert client.get(f"{URL}{member.pk}/").status_code == 200
    assert client.post(URL, _new(branch)).status_code == 403
    assert client.patch(f"{URL}{member.pk}/", {"city": "Kano"}).status_code == 403


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"first_name": None}, 400),
        ({"phone": 8031234567}, 201),  # a number is read as the phone's digits
        ({"bvn": None}, 400),
        ({"first_name": "A" * 500}, 400),
        ({"first_name": "Ade\x00bayo"}, 400),
        ({"date_of_birth": "0001-01-01"}, 400),
        ({"join_date": "2999-12-31"}, 400),
        ({"branch": ["a", "b"]}, 400),
    ],
)
def test_odd_input_never_becomes_a_500(api_as, teller, branch, payload, expected):
    response = api_as(teller).post(URL, {**_new(branch), **payload})
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    "term", ["\x00", "abc\x00def", "%", "_", "'; drop table members_member; --", "é" * 300]
)
def test_odd_search_terms_are_harmless(api_as, admin_client_as, teller, member, term):
    assert api_as(teller).get(URL, {"search": term}).status_code == 200
    assert admin_client_as(teller).get("/admin/members/member/", {"q": term}).status_code == 200
