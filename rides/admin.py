from django.contrib import admin

from rides.models import ServiceArea


@admin.register(ServiceArea)
class ServiceAreaAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "active", "min_lat", "max_lat", "min_lng", "max_lng")
    readonly_fields = ("min_lat", "max_lat", "min_lng", "max_lng")
