import pytest

pytestmark = pytest.mark.django_db


def test_teller_logs_into_admin_and_sees_their_branch_on_the_dashboard(client, teller, branch):
    # given a teller of Main Branch
    # when they log in with email and password
    response = client.post(
        "/admin/login/?next=/admin/", {"username": teller.email, "password": "correct-horse-battery-9"}
    )
    # then the dashboard shows their branch
    assert response.status_code == 302
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "Main Branch (MB001)" in page.content.decode()


def test_branches_api_lists_only_the_callers_branches(api_as, teller, branch, other_branch):
    response = api_as(teller).get("/api/v1/branches/")
    assert response.status_code == 200
    assert [b["code"] for b in response.json()["results"]] == ["MB001"]
    assert api_as(teller).get(f"/api/v1/branches/{other_branch.pk}/").status_code == 404
