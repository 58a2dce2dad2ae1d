from django.urls import path

from . import views

urlpatterns = [
    path("approvals/", views.ApprovalRequestListView.as_view(), name="approval-list"),
    path("approvals/<uuid:pk>/", views.ApprovalRequestDetailView.as_view(), name="approval-detail"),
    path("approvals/<uuid:pk>/decide/", views.ApprovalDecideView.as_view(), name="approval-decide"),
    path("approvals/<uuid:pk>/cancel/", views.ApprovalCancelView.as_view(), name="approval-cancel"),
]
