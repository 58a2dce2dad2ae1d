from django.urls import path

from .statement_views import AccountStatementApi

urlpatterns = [
    path("accounts/<uuid:pk>/statement/", AccountStatementApi.as_view(), name="account-statement"),
]
