"""REST API of the shortener: validate input, call a service or selector, serialise the result."""

from __future__ import annotations

import io

import segno
from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import FieldError
from core.openapi import SIGNED_IN, SIGNED_IN_WRITE, error_responses
from core.pagination import PageNumberPagination
from core.ratelimit import client_ip
from shortener import selectors
from shortener.models import Link
from shortener.services import imports, links


def short_url(code: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/{code}"


def link_summary(link: Link) -> dict:
    return {
        "short_code": link.short_code,
        "short_url": short_url(link.short_code),
        "long_url": link.long_url,
        "created_at": link.created_at.isoformat(),
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "redirect_type": link.redirect_type,
    }


def link_detail(link: Link, *, click_count: int | None = None) -> dict:
    return {
        **link_summary(link),
        "tags": link.tag_list,
        "click_count": link.click_count if click_count is None else click_count,
        "max_clicks": link.max_clicks,
        "has_password": link.has_password,
        "state": selectors.link_state(link),
    }


class ShortenIn(serializers.Serializer):
    long_url = serializers.CharField(trim_whitespace=False, max_length=100_000)
    custom_alias = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True)
    redirect_type = serializers.IntegerField(required=False, allow_null=True)
    password = serializers.CharField(required=False, allow_blank=True, allow_null=True, trim_whitespace=False)
    max_clicks = serializers.IntegerField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(allow_blank=False), required=False, allow_null=True)


class LinkUpdateIn(serializers.Serializer):
    long_url = serializers.CharField(required=False, trim_whitespace=False, max_length=100_000)
    expires_in_days = serializers.IntegerField(required=False, allow_null=True)
    expires_at = serializers.CharField(required=False, allow_null=True)
    redirect_type = serializers.IntegerField(required=False)
    tags = serializers.ListField(child=serializers.CharField(allow_blank=False), required=False)
    password = serializers.CharField(required=False, allow_blank=True, allow_null=True, trim_whitespace=False)
    max_clicks = serializers.IntegerField(required=False, allow_null=True)


class LinkSummaryOut(serializers.Serializer):
    short_code = serializers.CharField()
    short_url = serializers.URLField()
    long_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    redirect_type = serializers.IntegerField()


class LinkOut(LinkSummaryOut):
    tags = serializers.ListField(child=serializers.CharField())
    click_count = serializers.IntegerField()
    max_clicks = serializers.IntegerField(allow_null=True)
    has_password = serializers.BooleanField()
    state = serializers.ChoiceField(choices=["active", "expired", "deleted", "exhausted"])


class LinkPageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LinkOut(many=True)


class NamedCountOut(serializers.Serializer):
    name = serializers.CharField()
    clicks = serializers.IntegerField()


class StatsOut(serializers.Serializer):
    clicks = serializers.IntegerField()
    unique_visitors = serializers.IntegerField()
    bots = serializers.IntegerField()
    series = inline_serializer(
        "StatsBucket",
        {"bucket": serializers.DateTimeField(), "clicks": serializers.IntegerField(),
         "unique_visitors": serializers.IntegerField()},
        many=True,
    )
    referrers = NamedCountOut(many=True)
    countries = NamedCountOut(many=True)
    devices = NamedCountOut(many=True)
    browsers = NamedCountOut(many=True)
    os = NamedCountOut(many=True)


class ImportOut(serializers.Serializer):
    results = inline_serializer(
        "ImportRow",
        {"row": serializers.IntegerField(), "status": serializers.ChoiceField(choices=["created", "error"]),
         "short_code": serializers.CharField(required=False), "error": serializers.CharField(required=False),
         "fields": serializers.DictField(required=False)},
        many=True,
    )
    created = serializers.IntegerField()
    failed = serializers.IntegerField()


def _parse(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    # Only the keys the client sent: PATCH must not reset what it did not mention.
    return {key: value for key, value in serializer.validated_data.items() if key in request.data}


class ShortenView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        request=ShortenIn,
        responses={201: LinkSummaryOut, **error_responses(*SIGNED_IN_WRITE, 409, 429)},
        examples=[OpenApiExample("A tagged link for a month", request_only=True, value={
            "long_url": "https://example.com/articles/launch", "expires_in_days": 30, "tags": ["launch"]})],
        summary="Shorten a URL (rate limited per user, anonymous callers per IP)",
    )
    def post(self, request):
        # The service validates every field (types included), exactly as for the hot path and CSV rows,
        # and applies the creation rate limit.
        link = links.link_create(
            owner=request.user,
            data=links.link_input_from(request.data, request_host=request.get_host()),
            client_ip=client_ip(request),
        )
        return Response(link_summary(link), status=status.HTTP_201_CREATED)


class LinkListView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("tag", str), OpenApiParameter("search", str),
            OpenApiParameter("page", int), OpenApiParameter("page_size", int),
        ],
        responses={200: LinkPageOut, **error_responses(*SIGNED_IN, 404)},
        summary="The caller's links, newest first",
    )
    def get(self, request):
        queryset = selectors.link_list_for_owner(
            owner=request.user, tag=request.query_params.get("tag"), search=request.query_params.get("search")
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(queryset, request, view=self)
        counts = selectors.link_click_counts(page)
        return paginator.get_paginated_response([link_detail(link, click_count=counts[link.pk]) for link in page])


class LinkDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _link(self, request, code: str) -> Link:
        return selectors.link_get_for_owner(owner=request.user, code=code)

    @extend_schema(responses={200: LinkOut, **error_responses(*SIGNED_IN, 404)}, summary="One of the caller's links")
    def get(self, request, code: str):
        link = self._link(request, code)
        return Response(link_detail(link, click_count=selectors.link_click_count(link)))

    @extend_schema(request=LinkUpdateIn, responses={200: LinkOut, **error_responses(*SIGNED_IN_WRITE, 404, 410)},
                   summary="Edit long_url, expiry, redirect_type, tags, password or max_clicks")
    def patch(self, request, code: str):
        link = self._link(request, code)
        changes = _parse(LinkUpdateIn, request)
        link = links.link_update(link=link, changes=changes, request_host=request.get_host())
        return Response(link_detail(link, click_count=selectors.link_click_count(link)))

    @extend_schema(responses={204: None, **error_responses(*SIGNED_IN_WRITE, 404)}, summary="Soft delete: the short URL answers 410 afterwards")
    def delete(self, request, code: str):
        links.link_delete(link=self._link(request, code))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkStatsView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="ISO date or datetime"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="ISO date or datetime"),
            OpenApiParameter("granularity", str, enum=["hour", "day"]),
        ],
        responses={200: StatsOut, **error_responses(400, *SIGNED_IN, 404)},
        summary="Clicks over time and top referrers, countries, devices, browsers, OS (bots apart)",
    )
    def get(self, request, code: str):
        link = selectors.link_get_for_owner(owner=request.user, code=code)
        window = selectors.stats_range(
            start=request.query_params.get("from"),
            end=request.query_params.get("to"),
            granularity=request.query_params.get("granularity"),
        )
        return Response(selectors.link_stats(link=link, window=window))


class LinkQrView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("scale", int)],
        responses={(200, "image/svg+xml"): OpenApiTypes.BINARY, (200, "image/png"): OpenApiTypes.BINARY,
                   **error_responses(400, 401, 404)},
        summary="QR code of the short URL (owner only; anyone for an anonymous link)",
    )
    def get(self, request, code: str, fmt: str):
        link = selectors.link_get_public_or_owned(user=request.user, code=code)
        try:
            scale = int(request.query_params.get("scale", "8"))
        except ValueError:
            raise FieldError({"scale": "Must be a whole number from 1 to 40."})
        if not 1 <= scale <= 40:
            raise FieldError({"scale": "Must be a whole number from 1 to 40."})
        qr = segno.make(short_url(link.short_code), error="m")
        buffer = io.BytesIO()
        if fmt == "svg":
            qr.save(buffer, kind="svg", scale=scale, border=2, xmldecl=False, title=f"QR code for /{link.short_code}")
            content_type = "image/svg+xml"
        else:
            qr.save(buffer, kind="png", scale=scale, border=2)
            content_type = "image/png"
        response = HttpResponse(buffer.getvalue(), content_type=content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response


class LinkImportView(APIView):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("ImportIn", {"file": serializers.FileField()})},
        responses={200: ImportOut, **error_responses(*SIGNED_IN_WRITE, 429)},
        summary="Create links from a CSV (long_url, custom_alias, expires_in_days, tags); per-row results",
    )
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise FieldError({"file": "Attach a CSV file in the 'file' field."})
        if upload.size > imports.MAX_BYTES:
            raise FieldError({"file": f"The file is larger than {imports.MAX_BYTES // 1024} KiB."})
        result = imports.links_import_csv(owner=request.user, raw=upload.read(), request_host=request.get_host())
        return Response(result, status=status.HTTP_200_OK)
