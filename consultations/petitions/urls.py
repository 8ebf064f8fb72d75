from django.urls import path

from . import views

app_name = "petitions"

urlpatterns = [
    path("", views.index, name="index"),
    path("petitions.json", views.petitions_json, name="list_json"),
    path("new/", views.create, name="create"),
    path("similar/", views.similar, name="similar"),
    path("edit/<str:token>/", views.edit, name="edit"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>.json", views.petition_json, name="json"),
    path("<int:pk>/thanks/", views.thanks, name="thanks"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("sponsor/<str:token>/", views.sponsor, name="sponsor"),
]
