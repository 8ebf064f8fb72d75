from django.urls import path

from . import views

app_name = "webcast"

urlpatterns = [
    path("", views.index, name="index"),
    path("meetings.ics", views.calendar, name="calendar"),
    path("<int:pk>/", views.meeting, name="meeting"),
    path("<int:pk>/watching/", views.watching, name="watching"),
]
