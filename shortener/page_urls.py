from django.urls import path

from shortener import views

urlpatterns = [
    path("", views.links_page, name="shortener-links-page"),
    path("<str:code>/", views.link_dashboard, name="shortener-dashboard-page"),
]
