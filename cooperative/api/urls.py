from django.urls import path

from . import views

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", views.TokenRefreshThrottledView.as_view(), name="token-refresh"),
    path("me/", views.MeView.as_view(), name="me"),
    path("branches/", views.BranchListView.as_view(), name="branch-list"),
    path("branches/<uuid:pk>/", views.BranchDetailView.as_view(), name="branch-detail"),
    path("audit-logs/", views.AuditLogListView.as_view(), name="auditlog-list"),
    path("audit-logs/<int:pk>/", views.AuditLogDetailView.as_view(), name="auditlog-detail"),
]
