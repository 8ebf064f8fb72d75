from django.urls import path

from . import staff_views

app_name = "questions_staff"

urlpatterns = [
    path("", staff_views.queue, name="queue"),
    path("chair/", staff_views.chair, name="chair"),
    path("add/", staff_views.add, name="add"),
    path("settings/", staff_views.settings_edit, name="settings"),
    path("<int:pk>/", staff_views.question, name="question"),
    path("<int:pk>/act/", staff_views.act, name="act"),
    path("bans/<int:pk>/delete/", staff_views.unban, name="unban"),
]
