from django.urls import path

from . import imports, views

urlpatterns = [
    path("", views.home, name="home"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("privacy/", views.privacy, name="privacy"),
    path("cookies/", views.cookies, name="cookies"),
    path("healthz", views.healthz, name="healthz"),
    path("brand.css", views.brand_css, name="brand_css"),
    path("staff/", views.staff_dashboard, name="staff_dashboard"),
    path("staff/imports/", imports.imports, name="staff_imports"),
]
