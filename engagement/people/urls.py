from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("councillors/", views.councillor_list, name="councillors"),
    path("councillors/<slug:slug>/", views.councillor, name="councillor"),
    path("committees/", views.committee_list, name="committees"),
    path("committees/<slug:slug>/", views.committee, name="committee"),
    path("staff/popolo.json", views.popolo_export, name="popolo_export"),
]
