"""REST API of the chat: validate input, call a service or selector, return JSON."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import errors, selectors
from chat.models import Conversation
from chat.presenters import attachment_payload, iso
from chat.services import blocks, conversations, messages, notifications
from chat.services.attachments import attachment_upload
from core.errors import FieldError
from core.ids import MAX_ID
from core.media import private_file_response
from core.openapi import SIGNED_IN, SIGNED_IN_WRITE, error_responses

_THUMBNAIL_TYPES = {"png": "image/png", "jpg": "image/jpeg"}


# --- schema-documenting output shapes ----------------------------------------
class AttachmentOut(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField()
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)


class MessageOut(serializers.Serializer):
    id = serializers.CharField(help_text="Snowflake")
    conversation = serializers.CharField()
    seq = serializers.IntegerField(help_text="Per-conversation, gapless")
    sender = serializers.CharField()
    content = serializers.CharField()
    attachments = AttachmentOut(many=True)
    reactions = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
    client_id = serializers.CharField()


class ReceiptOut(serializers.Serializer):
    delivered_seq = serializers.IntegerField()
    read_seq = serializers.IntegerField()


class ConversationOut(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.ChoiceField(choices=["direct", "group"])
    title = serializers.CharField(allow_null=True)
    members = serializers.ListField(child=serializers.CharField())
    admins = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField()
    last_change = serializers.IntegerField(help_text="Change cursor: sync with it replays later edits, deletes, reactions")
    last_message = MessageOut(allow_null=True)
    unread_count = serializers.IntegerField()


class ConversationDetailOut(ConversationOut):
    receipts = serializers.DictField(child=ReceiptOut())


# --- input --------------------------------------------------------------------
class ConversationIn(serializers.Serializer):
    members = serializers.ListField(child=serializers.CharField(max_length=150), max_length=1000)
    title = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True)


class MembersIn(serializers.Serializer):
    members = serializers.ListField(child=serializers.CharField(max_length=150), min_length=1, max_length=1000)


class MessageIn(serializers.Serializer):
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    client_id = serializers.CharField(max_length=64)
    attachment_ids = serializers.ListField(child=serializers.CharField(max_length=32), required=False,
                                           allow_null=True)


class MessageEditIn(serializers.Serializer):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class EmojiIn(serializers.Serializer):
    emoji = serializers.CharField(max_length=32)


class UsernameIn(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class MessagePageIn(serializers.Serializer):
    after_seq = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    before_seq = serializers.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=selectors.MESSAGE_PAGE_MAX, default=50)


class SearchIn(serializers.Serializer):
    q = serializers.CharField(max_length=200)
    conversation = serializers.CharField(required=False, allow_blank=True, max_length=32)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _conversation_out(conversation: Conversation, user) -> dict:
    return selectors.conversation_for_response(conversation_id=conversation.id, viewer=user)


class ConversationListView(APIView):
    @extend_schema(responses={200: ConversationOut(many=True), **error_responses(*SIGNED_IN)}, summary="The caller's conversations, most recent first")
    def get(self, request):
        return Response(selectors.conversation_list(user=request.user))

    @extend_schema(request=ConversationIn,
                   responses={201: ConversationOut, 200: ConversationOut, **error_responses(*SIGNED_IN_WRITE)},
                   examples=[OpenApiExample("A group", request_only=True,
                                            value={"members": ["friend", "stranger"], "title": "Launch"})],
                   summary="Create a conversation (a direct pair is created once)")
    def post(self, request):
        data = _valid(ConversationIn, request.data)
        conversation, created = conversations.conversation_create(
            creator=request.user, usernames=data["members"], title=data.get("title")
        )
        return Response(_conversation_out(conversation, request.user),
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ConversationDetailView(APIView):
    @extend_schema(responses={200: ConversationDetailOut, **error_responses(*SIGNED_IN, 404)}, summary="One conversation with every member's receipts")
    def get(self, request, conversation_id: str):
        return Response(selectors.conversation_detail(user=request.user, conversation_id=conversation_id))


class ConversationMembersView(APIView):
    @extend_schema(request=MembersIn, responses={200: ConversationOut, **error_responses(*SIGNED_IN_WRITE, 404)},
                   summary="Add members (group admins)")
    def post(self, request, conversation_id: str):
        data = _valid(MembersIn, request.data)
        conversation = conversations.members_add(
            actor=request.user, conversation_id=conversation_id, usernames=data["members"]
        )
        return Response(_conversation_out(conversation, request.user))

    @extend_schema(request=MembersIn, responses={200: ConversationOut, **error_responses(*SIGNED_IN_WRITE, 404)},
                   summary="Remove members (group admins; anyone may remove themselves)")
    def delete(self, request, conversation_id: str):
        data = _valid(MembersIn, request.data)
        conversation = conversations.members_remove(
            actor=request.user, conversation_id=conversation_id, usernames=data["members"]
        )
        return Response(_conversation_out(conversation, request.user))


class ConversationMessagesView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("after_seq", int), OpenApiParameter("before_seq", int),
                    OpenApiParameter("limit", int)],
        responses={200: MessageOut(many=True), **error_responses(400, *SIGNED_IN, 404)}, summary="Messages in seq order",
    )
    def get(self, request, conversation_id: str):
        data = _valid(MessagePageIn, request.query_params)
        return Response(selectors.message_list(
            user=request.user, conversation_id=conversation_id, after_seq=data.get("after_seq"),
            before_seq=data.get("before_seq"), limit=data["limit"],
        ))

    @extend_schema(request=MessageIn,
                   responses={201: MessageOut, 200: MessageOut, **error_responses(*SIGNED_IN_WRITE, 404, 429)},
                   examples=[OpenApiExample("A message", request_only=True,
                                            value={"content": "See https://example.com", "client_id": "c-1"})],
                   summary="Send a message (a repeated client_id returns the stored one with 200)")
    def post(self, request, conversation_id: str):
        data = _valid(MessageIn, request.data)
        message, created = messages.message_send(
            sender=request.user, conversation_id=conversation_id, client_id=data["client_id"],
            content=data.get("content", ""), attachment_ids=data.get("attachment_ids"),
        )
        return Response(message, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MessageDetailView(APIView):
    @extend_schema(request=MessageEditIn, responses={200: MessageOut, **error_responses(*SIGNED_IN_WRITE, 404)},
                   summary="Edit your message")
    def patch(self, request, message_id: str):
        data = _valid(MessageEditIn, request.data)
        return Response(messages.message_edit(user=request.user, message_id=message_id, content=data["content"]))

    # 200 with the tombstone, not 204: the message stays in the conversation as "deleted" and
    # clients replace it in place with this body.
    @extend_schema(responses={200: MessageOut, **error_responses(*SIGNED_IN_WRITE, 404)},
                   summary="Delete your message (answers the tombstone it leaves)")
    def delete(self, request, message_id: str):
        return Response(messages.message_delete(user=request.user, message_id=message_id))


class MessageReactionsView(APIView):
    @extend_schema(request=EmojiIn, responses={201: MessageOut, **error_responses(*SIGNED_IN_WRITE, 404)}, summary="React to a message")
    def post(self, request, message_id: str):
        data = _valid(EmojiIn, request.data)
        message = messages.reaction_add(user=request.user, message_id=message_id, emoji=data["emoji"])
        return Response(message, status=status.HTTP_201_CREATED)

    @extend_schema(request=EmojiIn, responses={200: MessageOut, **error_responses(*SIGNED_IN_WRITE, 404)}, summary="Remove your reaction")
    def delete(self, request, message_id: str):
        data = _valid(EmojiIn, request.data)
        return Response(messages.reaction_remove(user=request.user, message_id=message_id, emoji=data["emoji"]))


class AttachmentUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": inline_serializer("AttachmentIn", {"file": serializers.FileField()})},
        responses={201: AttachmentOut, **error_responses(*SIGNED_IN_WRITE)}, summary="Upload an attachment (≤ 25 MB; images get a thumbnail)",
    )
    def post(self, request):
        files = request.FILES.getlist("file")
        if len(files) != 1:
            raise FieldError({"file": "Send exactly one file in the multipart field 'file'."})
        attachment = attachment_upload(owner=request.user, uploaded=files[0])
        return Response(attachment_payload(attachment), status=status.HTTP_201_CREATED)


class AttachmentFileView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **error_responses(*SIGNED_IN, 404)},
                   summary="Download an attachment (its uploader and members of its conversation; others 404)")
    def get(self, request, attachment_id: int, thumbnail: bool = False):
        attachment = selectors.attachment_for_download(user=request.user, attachment_id=attachment_id)
        if thumbnail:
            if not attachment.thumbnail or not attachment.image_verified:
                raise errors.attachment_not_found()
            return private_file_response(request, attachment.thumbnail, name=f"thumbnail-{attachment.name}",
                                         content_type=_THUMBNAIL_TYPES.get(attachment.thumbnail.name.rsplit(".", 1)[-1]),
                                         inline=True)
        return private_file_response(request, attachment.file, name=attachment.name, content_type=attachment.content_type,
                                     inline=attachment.image_verified)


class SearchView(APIView):
    @extend_schema(parameters=[OpenApiParameter("q", str, required=True), OpenApiParameter("conversation", str)],
                   responses={200: inline_serializer("SearchOut", {"results": MessageOut(many=True)}),
                              **error_responses(400, *SIGNED_IN, 404)},
                   summary="Ranked matches from the caller's conversations")
    def get(self, request):
        data = _valid(SearchIn, request.query_params)
        results = selectors.message_search(user=request.user, query=data["q"],
                                           conversation_id=data.get("conversation") or None)
        return Response({"results": results})


class UserSearchView(APIView):
    @extend_schema(parameters=[OpenApiParameter("q", str)],
                   responses={200: inline_serializer("ChatUser", {"username": serializers.CharField()}, many=True),
                              **error_responses(400, *SIGNED_IN)},
                   summary="Users whose name starts with q (at least 3 characters; max 20)")
    def get(self, request):
        query = request.query_params.get("q", "")[:150]
        return Response(selectors.user_search(query=query, exclude=request.user))


class PresenceView(APIView):
    @extend_schema(responses={200: inline_serializer("Presence", {
        "online": serializers.BooleanField(), "last_seen": serializers.DateTimeField(allow_null=True)}),
        **error_responses(*SIGNED_IN, 404)})
    def get(self, request, username: str):
        return Response(selectors.presence_of(viewer=request.user, username=username))


class BlockOut(serializers.Serializer):
    username = serializers.CharField()
    created_at = serializers.DateTimeField()


class BlockListView(APIView):
    @extend_schema(responses={200: BlockOut(many=True), **error_responses(*SIGNED_IN)}, summary="Users you blocked")
    def get(self, request):
        return Response(selectors.block_list(user=request.user))

    @extend_schema(request=UsernameIn, responses={201: BlockOut, **error_responses(*SIGNED_IN_WRITE, 404)},
                   examples=[OpenApiExample("Block a user", request_only=True, value={"username": "stranger"})],
                   summary="Block a user's direct messages")
    def post(self, request):
        data = _valid(UsernameIn, request.data)
        block, _ = blocks.block_create(blocker=request.user, username=data["username"])
        return Response({"username": data["username"], "created_at": iso(block.created_at)},
                        status=status.HTTP_201_CREATED)


class BlockDetailView(APIView):
    @extend_schema(responses={204: None, **error_responses(*SIGNED_IN_WRITE, 404)}, summary="Unblock")
    def delete(self, request, username: str):
        blocks.block_delete(blocker=request.user, username=username)
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotificationListView(APIView):
    @extend_schema(responses={200: inline_serializer("Notifications", {
        "unread": serializers.IntegerField(),
        "results": inline_serializer("Notification", {
            "id": serializers.CharField(), "conversation": serializers.CharField(),
            "message": serializers.CharField(), "preview": serializers.CharField(),
            "created_at": serializers.DateTimeField(), "read": serializers.BooleanField()}, many=True),
    }), **error_responses(*SIGNED_IN)})
    def get(self, request):
        return Response(selectors.notification_list(user=request.user))


class NotificationReadView(APIView):
    @extend_schema(request=None, responses={204: None, **error_responses(*SIGNED_IN_WRITE)}, summary="Mark every notification read")
    def post(self, request):
        notifications.notifications_mark_read(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
