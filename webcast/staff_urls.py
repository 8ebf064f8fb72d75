from django.urls import path

from . import staff_views

app_name = "webcast_staff"

urlpatterns = [
    path("", staff_views.meetings, name="list"),
    path("new/", staff_views.meeting_form, name="create"),
    path("retention/", staff_views.retention, name="retention"),
    path("<int:pk>/", staff_views.meeting, name="meeting"),
    path("<int:pk>/edit/", staff_views.meeting_form, name="edit"),
    path("<int:pk>/control/", staff_views.control, name="control"),
    path("<int:pk>/recording/", staff_views.recording, name="recording"),
    path("<int:pk>/runs/<int:run>/recording/", staff_views.recording, name="run_recording"),
    path("<int:pk>/items/<int:item_pk>/", staff_views.item_edit, name="item"),
    path("<int:pk>/items/<int:item_pk>/delete/", staff_views.item_delete, name="item_delete"),
    path(
        "<int:pk>/documents/<int:doc_pk>/delete/",
        staff_views.document_delete,
        name="document_delete",
    ),
]
