from django.urls import path

from . import views

app_name = "questions"

urlpatterns = [
    path("", views.feed, name="feed"),
    path("ask/", views.ask, name="ask"),
    path("projector/", views.projector, name="projector"),
    path("<int:pk>/vote/", views.vote, name="vote"),
    path("chair/", views.chair, name="chair"),
    path("chair/<int:pk>/act/", views.chair_act, name="chair_act"),
]
