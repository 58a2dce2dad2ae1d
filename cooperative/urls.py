from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

handler400 = "cooperative.views.handler400"
handler403 = "cooperative.views.handler403"
handler404 = "cooperative.views.handler404"
handler500 = "cooperative.views.handler500"

api_v1 = [
    path("", include("cooperative.api.urls")),
    # Domain apps add their routes here by dotted string: cooperative imports no domain app.
    *[path("", include(module)) for module in settings.COOP_API_URLCONFS],
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its init script from the same URL (?script=): no inline JS, so the CSP
    # (script-src 'self') holds; the Swagger UI assets come from drf-spectacular-sidecar.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("health/live", views.health_live, name="health-live"),
    path("health/ready", views.health_ready, name="health-ready"),
]

if settings.BENCH_BASELINE_ENDPOINT:  # benchmarks only: bench/postings.py's yardstick endpoint
    urlpatterns.append(path("", include("bench.urls")))
