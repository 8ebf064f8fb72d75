from django.urls import path

from . import staff_views, views

app_name = "budgets"

urlpatterns = [
    path("budgets/", views.index, name="index"),
    path("budgets/receipt/", views.receipt, name="receipt"),
    path("budgets/<slug:slug>/", views.round_detail, name="round"),
    path("budgets/<slug:slug>/projects/<int:pk>/", views.project_detail, name="project"),
    path("budgets/<slug:slug>/propose/", views.propose, name="propose"),
    path("budgets/<slug:slug>/vote/", views.eligibility, name="eligibility"),
    path("budgets/<slug:slug>/vote/phone/", views.phone, name="phone"),
    path("budgets/<slug:slug>/vote/choose/", views.choose, name="choose"),
    path("budgets/<slug:slug>/vote/<int:budget>/", views.ballot, name="ballot"),
    path("budgets/<slug:slug>/vote/<int:budget>/done/", views.done, name="done"),
    path("budgets/<slug:slug>/results/", views.results, name="results"),
    path("budgets/<slug:slug>/results.csv", views.results_csv, name="results_csv"),
    path("budgets/<slug:slug>/ballots/<int:budget>.csv", views.ballots_csv, name="ballots_csv"),
    path("budgets/<slug:slug>/ballots/<int:budget>.pb", views.ballots_pabulib, name="ballots_pb"),
    # staff
    path("staff/budgets/", staff_views.rounds, name="staff_rounds"),
    path("staff/budgets/new/", staff_views.round_edit, name="staff_round_new"),
    path("staff/budgets/import/", staff_views.pabulib_import, name="staff_import"),
    path("staff/budgets/<int:pk>/", staff_views.round_detail, name="staff_round"),
    path("staff/budgets/<int:pk>/edit/", staff_views.round_edit, name="staff_round_edit"),
    path("staff/budgets/<int:pk>/phase/", staff_views.round_phase, name="staff_round_phase"),
    path("staff/budgets/<int:pk>/count/", staff_views.count, name="staff_count"),
    path("staff/budgets/<int:pk>/budgets/new/", staff_views.budget_edit, name="staff_budget_new"),
    path(
        "staff/budgets/<int:pk>/budgets/<int:budget>/",
        staff_views.budget_edit,
        name="staff_budget_edit",
    ),
    path(
        "staff/budgets/<int:pk>/budgets/<int:budget>/projects/new/",
        staff_views.project_edit,
        name="staff_project_new",
    ),
    path(
        "staff/budgets/<int:pk>/projects/<int:project>/",
        staff_views.project_edit,
        name="staff_project_edit",
    ),
    path(
        "staff/budgets/<int:pk>/projects/<int:project>/update/",
        staff_views.project_update,
        name="staff_project_update",
    ),
    path("staff/budgets/<int:pk>/codes/", staff_views.codes, name="staff_codes"),
    path("staff/budgets/<int:pk>/codes.csv", staff_views.codes_csv, name="staff_codes_csv"),
    path(
        "staff/budgets/<int:pk>/budgets/<int:budget>/paper/",
        staff_views.paper,
        name="staff_paper",
    ),
]
