from django.urls import path

from . import staff_views

app_name = "staff_users"

urlpatterns = [
    path("", staff_views.user_list, name="list"),
    path("<int:pk>/", staff_views.user_roles, name="roles"),
]
