from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from budgets.api import BudgetRoundViewSet
from consultations.surveys.api import ConsultationViewSet
from webcast.api import MeetingViewSet
from webcast.questions.api import MeetingQuestionList

from . import views

app_name = "api"

router = DefaultRouter()
router.register("wards", views.WardViewSet, basename="ward")
router.register("councillors", views.CouncillorViewSet, basename="councillor")
router.register("committees", views.CommitteeViewSet, basename="committee")
router.register("budget-rounds", BudgetRoundViewSet, basename="budget-round")
router.register("consultations", ConsultationViewSet, basename="consultation")
router.register("meetings", MeetingViewSet, basename="meeting")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("postcodes/<str:postcode>/", views.postcode, name="postcode"),
    path(
        "meetings/<int:meeting_pk>/questions/",
        MeetingQuestionList.as_view(),
        name="meeting-questions",
    ),
    path("", include(router.urls)),
]
