from django.urls import path, re_path

from rides import api

_RIDE = r"^rides/(?P<ride_id>[0-9]{1,20})"

urlpatterns = [
    path("rides", api.RideListView.as_view(), name="rides-list"),
    path("rides/estimate", api.EstimateView.as_view(), name="rides-estimate"),
    path("rides/surge", api.SurgeView.as_view(), name="rides-surge"),
    path("rides/driver/online", api.DriverOnlineView.as_view(), name="rides-driver-online"),
    path("rides/driver/offline", api.DriverOfflineView.as_view(), name="rides-driver-offline"),
    path("rides/driver/location", api.DriverLocationView.as_view(), name="rides-driver-location"),
    path("rides/drivers/nearby", api.NearbyDriversView.as_view(), name="rides-drivers-nearby"),
    re_path(_RIDE + "$", api.RideDetailView.as_view(), name="rides-detail"),
    *[
        re_path(_RIDE + f"/{action}$", api.RideDriverActionView.as_view(action_name=action), name=f"rides-{action}")
        for action in ("accept", "arrive", "start", "complete")
    ],
    re_path(_RIDE + "/decline$", api.RideDeclineView.as_view(), name="rides-decline"),
    re_path(_RIDE + "/cancel$", api.RideCancelView.as_view(), name="rides-cancel"),
    re_path(_RIDE + "/rate$", api.RideRateView.as_view(), name="rides-rate"),
    re_path(_RIDE + "/share$", api.RideShareView.as_view(), name="rides-share-link"),
]
