from django.urls import path, re_path

from rides import views

urlpatterns = [
    path("", views.rider_page, name="rides-rider-page"),
    path("drive/", views.driver_page, name="rides-driver-page"),
    path("drive/state", views.driver_state, name="rides-driver-state"),
    re_path(r"^(?P<ride_id>[0-9]{1,20})/track$", views.ride_tracking, name="rides-ride-tracking"),
    path("share/<str:token>/", views.share_page, name="rides-share-page"),
    path("ops/", views.operations_page, name="rides-operations-page"),
    path("ops/data", views.operations_data, name="rides-operations-data"),
]
