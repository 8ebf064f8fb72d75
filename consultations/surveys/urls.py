from django.urls import path

from . import views

app_name = "consultations"

urlpatterns = [
    path("", views.index, name="index"),
    path("resume/<str:token>/", views.resume, name="resume"),
    path("<slug:slug>/", views.detail, name="detail"),
    path("<slug:slug>/start/", views.start, name="start"),
    path("<slug:slug>/respond/<int:number>/", views.page, name="page"),
    path("<slug:slug>/respond/check/", views.check, name="check"),
    path("<slug:slug>/respond/save/", views.save, name="save"),
    path("<slug:slug>/respond/done/<str:reference>/", views.done, name="done"),
    path("<slug:slug>/outcome/", views.outcome, name="outcome"),
]
