"""The project's URLs."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from engagement.core import views as core_views

admin.site.site_header = "Moot administration"

urlpatterns = [
    path("", include("engagement.core.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("engagement.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("wards/", include("engagement.places.urls")),
    path("", include("engagement.people.urls")),
    path("staff/settings/", include("engagement.council.urls")),
    path("staff/audit/", include("engagement.audit.urls")),
    path("staff/users/", include("engagement.accounts.staff_urls")),
    path("", include("budgets.urls")),
    path("petitions/", include("consultations.petitions.urls")),
    path("staff/petitions/", include("consultations.petitions.staff_urls")),
    path("consultations/", include("consultations.surveys.urls")),
    path("staff/consultations/", include("consultations.surveys.staff_urls")),
    path("meetings/", include("webcast.urls")),
    path("staff/meetings/", include("webcast.staff_urls")),
    path("meetings/<int:meeting_pk>/questions/", include("webcast.questions.urls")),
    path("staff/meetings/<int:meeting_pk>/questions/", include("webcast.questions.staff_urls")),
    path("inbox/", include("social.urls")),
    path("api/", include("engagement.api.urls")),
    path("django-admin/", admin.site.urls),
]

if settings.DEBUG:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler400 = core_views.bad_request
handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
