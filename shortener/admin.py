from django import forms
from django.contrib import admin, messages

from shortener.models import BlockedHost, Click, Link, LinkState
from shortener.services import blocklist, links


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ("short_code", "long_url", "owner", "state", "click_count", "expires_at", "created_at")
    list_filter = ("state", "redirect_type", "created_at")
    search_fields = ("short_code", "long_url", "owner__username", "tags")
    readonly_fields = ("id", "short_code", "click_count", "served_count", "password_hash", "created_at",
                       "updated_at", "deleted_at")
    fields = ("id", "short_code", "owner", "long_url", "redirect_type", "expires_at", "max_clicks", "served_count",
              "tags", "state", "click_count", "password_hash", "created_at", "updated_at", "deleted_at")
    raw_id_fields = ("owner",)
    list_select_related = ("owner",)
    actions = ("soft_delete", "expire_now")

    def has_add_permission(self, request):
        return False  # links are created through the API, which validates and allocates codes

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data
                   if name in ("long_url", "redirect_type", "max_clicks")}
        if "expires_at" in form.changed_data:
            value = form.cleaned_data["expires_at"]
            changes["expires_at"] = value.isoformat() if value else None
        if "tags" in form.changed_data:
            changes["tags"] = [t for t in form.cleaned_data["tags"].split("|") if t]
        if "state" in form.changed_data and form.cleaned_data["state"] == LinkState.DELETED:
            links.link_delete(link=obj)
        elif changes:
            links.link_update(link=obj, changes=changes)

    @admin.action(description="Delete (soft) selected links")
    def soft_delete(self, request, queryset):
        for link in queryset:
            links.link_delete(link=link)
        messages.success(request, f"Deleted {queryset.count()} link(s).")

    @admin.action(description="Expire selected links now")
    def expire_now(self, request, queryset):
        from django.utils import timezone

        for link in queryset.filter(state=LinkState.ACTIVE):
            links.link_update(link=link, changes={"expires_at": timezone.now().isoformat()})
        messages.success(request, "Expired the selected links.")


class BlockedHostForm(forms.ModelForm):
    class Meta:
        model = BlockedHost
        fields = ("host", "reason")

    def clean_host(self):
        # Normalised before the form's own uniqueness check, as the service stores it.
        return blocklist.normalise_host(self.cleaned_data["host"])


@admin.register(BlockedHost)
class BlockedHostAdmin(admin.ModelAdmin):
    form = BlockedHostForm
    list_display = ("host", "reason", "created_at")
    search_fields = ("host", "reason")

    def save_model(self, request, obj, form, change):
        blocklist.blocked_host_save(host=form.cleaned_data["host"], reason=form.cleaned_data["reason"],
                                    blocked_host=obj)

    def delete_model(self, request, obj):
        blocklist.blocked_hosts_remove(blocked_hosts=[obj])

    def delete_queryset(self, request, queryset):
        blocklist.blocked_hosts_remove(blocked_hosts=list(queryset))


@admin.register(Click)
class ClickAdmin(admin.ModelAdmin):
    list_display = ("time", "link", "country", "device", "browser", "os", "is_bot", "referrer_host")
    list_filter = ("is_bot", "device", "country")
    search_fields = ("link__short_code",)
    list_select_related = ("link",)
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
