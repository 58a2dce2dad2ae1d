from django.urls import path

from .baseline_views import BaselinePostingView

urlpatterns = [path("bench/baseline/<uuid:account_id>/", BaselinePostingView.as_view())]
