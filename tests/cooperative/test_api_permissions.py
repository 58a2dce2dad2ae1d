"""The default API permission: authenticated + active + model permission; HasPerm for actions."""

import pytest
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.models import Branch

pytestmark = pytest.mark.django_db


class _NoQuerysetView(generics.GenericAPIView):
    serializer_class = serializers.Serializer

    def get(self, request):
        return Response({"ok": True})


class _PlainView(APIView):
    def get(self, request):
        return Response({"ok": True})


class _ActionView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("cooperative.change_branch"))

    def post(self, request):
        return Response({"ok": True})


class _BranchCreateView(generics.CreateAPIView):
    queryset = Branch.objects.all()

    class serializer_class(serializers.ModelSerializer):  # noqa: N801 - DRF attribute name
        class Meta:
            model = Branch
            fields = ("name", "code")


def call(view, user, method="get", data=None):
    request = getattr(APIRequestFactory(), method)("/x/", data or {}, format="json")
    force_authenticate(request, user=user)
    return view.as_view()(request)


def test_a_generic_view_without_a_queryset_is_refused_by_default(teller):
    assert call(_NoQuerysetView, teller).status_code == 403


def test_a_plain_view_only_needs_an_authenticated_active_user(teller):
    assert call(_PlainView, teller).status_code == 200
    teller.is_active = False
    assert call(_PlainView, teller).status_code == 403


def test_writes_need_the_add_permission(teller, admin_user):
    assert call(_BranchCreateView, teller, "post", {"name": "X", "code": "X1"}).status_code == 403
    assert call(_BranchCreateView, admin_user, "post", {"name": "X", "code": "X1"}).status_code == 201


def test_action_permission(teller, admin_user):
    assert call(_ActionView, teller, "post").status_code == 403
    assert call(_ActionView, admin_user, "post").status_code == 200
