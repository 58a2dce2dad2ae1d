"""The admin's shared form/confirmation loop (cooperative/admin_confirm.py), without a domain app."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse, HttpResponseRedirect
from django.test import RequestFactory

from cooperative.admin_confirm import EXPIRED, Confirmation, Outcome, add_domain_error, submit_form
from cooperative.exceptions import Conflict, ValidationFailed


class AmountForm(forms.Form):
    amount = forms.DecimalField()
    account_type = forms.CharField(required=False)


@pytest.fixture
def request_():
    request = RequestFactory().post("/")
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_a_refusal_goes_on_the_field_it_names_or_above_the_form():
    form = AmountForm({"amount": "5"})
    form.is_valid()
    add_domain_error(form, ValidationFailed("Too much.", field="amount"))
    add_domain_error(form, Conflict("Account closed.", field="status"))
    add_domain_error(form, ValidationFailed("Pick a type.", field="type"), fields={"type": "account_type"})

    assert form.errors["amount"] == ["Too much."]
    assert form.non_field_errors() == ["Account closed."]
    assert form.errors["account_type"] == ["Pick a type."]
    above = AmountForm({"amount": "5"})
    above.is_valid()
    add_domain_error(above, ValidationFailed("Too much.", field="amount"), on_field=False)
    assert above.non_field_errors() == ["Too much."]


def test_submit_form_answers_the_service_the_refusal_or_nothing_for_an_invalid_form():
    calls = []

    def service(data):
        calls.append(data["amount"])
        if data["amount"] > 10:
            raise Conflict("Over the limit.", field="amount")
        return "entry"

    done = submit_form(AmountForm({"amount": "5"}), service, done=lambda result: HttpResponse(result))
    refused_form = AmountForm({"amount": "50"})
    refused = submit_form(refused_form, service, done=lambda result: HttpResponse(result))
    invalid = submit_form(AmountForm({"amount": "x"}), service, done=lambda result: HttpResponse(result))

    assert done.response.content == b"entry"
    assert refused.response is None
    assert refused.error.status == 409
    assert refused_form.errors["amount"] == ["Over the limit."]
    assert invalid == Outcome()
    assert len(calls) == 2


def test_a_token_posts_once_and_a_replay_asks_what_the_first_post_did(request_):
    confirmation = Confirmation(request_, "pending", limit=2)
    token = confirmation.issue({"id": "1"})
    posted = []

    def post():
        return confirmation.post(
            token,
            belongs=lambda payload: payload["id"] == "1",
            service=lambda payload, idempotency_key: posted.append(idempotency_key) or "done",
            done=lambda payload, result: HttpResponse(result),
            refused=lambda payload, exc: HttpResponse("refused"),
            replayed=lambda idempotency_key: HttpResponse("replay") if idempotency_key in posted else None,
            start_again_url="/again/",
        )

    first, second = post(), post()

    assert (first.content, second.content) == (b"done", b"replay")
    assert posted == [f"admin:{token}"]


def test_an_unknown_or_foreign_token_starts_again_and_a_refusal_spends_the_token(request_):
    confirmation = Confirmation(request_, "pending", limit=2)
    tokens = [confirmation.issue({"id": str(n)}) for n in range(3)]  # the oldest is dropped

    def post(token, service):
        return confirmation.post(
            token,
            belongs=lambda payload: payload["id"] != "2",
            service=service,
            done=lambda payload, result: HttpResponse("done"),
            refused=lambda payload, exc: HttpResponse(exc.message),
            replayed=lambda key: None,
            start_again_url="/again/",
        )

    def refuse(payload, key):
        raise Conflict("No.")

    dropped = post(tokens[0], refuse)
    foreign = post(tokens[2], refuse)
    refused = post(tokens[1], refuse)
    spent = post(tokens[1], refuse)

    assert isinstance(dropped, HttpResponseRedirect)
    assert dropped.url == "/again/"
    assert isinstance(foreign, HttpResponseRedirect)
    assert refused.content == b"No."
    assert isinstance(spent, HttpResponseRedirect)
    assert [m.message for m in get_messages(request_)] == [EXPIRED, EXPIRED, EXPIRED]
