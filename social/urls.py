from django.urls import path

from . import views

app_name = "social"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/<int:pk>/", views.case, name="case"),
    path("figures/", views.figures, name="figures"),
    path("response-times.json", views.figures_json, name="figures_json"),
    path("link-account/", views.link_account, name="link_account"),
    path("sources/", views.sources, name="sources"),
    path("sources/new/", views.source_edit, name="source_new"),
    path("sources/<int:pk>/", views.source_edit, name="source_edit"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("gazetteer/import/", views.gazetteer_import, name="gazetteer_import"),
]
