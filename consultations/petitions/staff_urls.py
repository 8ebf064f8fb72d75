from django.urls import path

from . import staff_views

app_name = "petitions_staff"

urlpatterns = [
    path("", staff_views.petitions, name="list"),
    path("blocks/", staff_views.block_rules, name="blocks"),
    path("blocks/<int:pk>/remove/", staff_views.block_rule_remove, name="block_remove"),
    path("<int:pk>/", staff_views.petition, name="petition"),
]
