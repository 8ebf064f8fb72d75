from django.urls import path

from . import views

app_name = "places"

urlpatterns = [
    path("", views.ward_list, name="wards"),
    path("<slug:slug>/", views.ward_detail, name="ward"),
]
