from django.urls import path

from . import staff_views as v

app_name = "consultations_staff"

urlpatterns = [
    path("", v.consultation_list, name="list"),
    path("new/", v.consultation_new, name="new"),
    path("<int:pk>/", v.consultation_detail, name="detail"),
    path("<int:pk>/edit/", v.consultation_edit, name="edit"),
    path("<int:pk>/builder/", v.builder, name="builder"),
    path("<int:pk>/builder/sections/<int:section_id>/", v.section_edit, name="section"),
    path(
        "<int:pk>/builder/sections/<int:section_id>/questions/new/",
        v.question_edit,
        name="question_new",
    ),
    path(
        "<int:pk>/builder/sections/<int:section_id>/questions/<int:question_id>/",
        v.question_edit,
        name="question",
    ),
    path("<int:pk>/preview/", v.preview, name="preview"),
    path("<int:pk>/enter/", v.enter, name="enter"),
    path("<int:pk>/import/", v.import_csv, name="import"),
    path("<int:pk>/responses/", v.response_list, name="responses"),
    path("<int:pk>/responses/<int:response_id>/", v.response_detail, name="response"),
    path("<int:pk>/analysis/", v.analysis, name="analysis"),
    path("<int:pk>/themes/<int:question_id>/", v.themes, name="themes"),
    path("<int:pk>/export.<str:fmt>", v.export, name="export"),
    path("<int:pk>/outcome/", v.outcome, name="outcome"),
]
