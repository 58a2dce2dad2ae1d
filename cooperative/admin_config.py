from django.contrib.admin.apps import AdminConfig


class CoopAdminConfig(AdminConfig):
    """Replaces django.contrib.admin in INSTALLED_APPS so `admin.site` is the Coopdesk site."""

    default_site = "cooperative.admin_site.CoopAdminSite"
