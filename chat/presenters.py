"""JSON shapes of chat objects, shared by the REST API, WebSocket events and sync.

Callers prefetch what these read (see ``selectors.with_message_relations``).
"""

from datetime import datetime

from django.urls import reverse

from chat.models import Attachment, Conversation, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def attachment_payload(attachment: Attachment) -> dict:
    """URLs point at the download view, which checks the caller (session or token) may see it."""
    url = reverse("chat-attachment-file", kwargs={"attachment_id": attachment.id})
    return {
        "id": str(attachment.id),
        "url": url,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "thumbnail_url": f"{url}/thumbnail" if attachment.thumbnail and attachment.image_verified else None,
    }


def message_payload(message: Message) -> dict:
    reactions: dict[str, list[str]] = {}
    attachments: list[dict] = []
    if not message.deleted:
        for reaction in sorted(message.reactions.all(), key=lambda r: r.id):
            reactions.setdefault(reaction.emoji, []).append(reaction.user.username)
        attachments = [attachment_payload(a) for a in sorted(message.attachments.all(), key=lambda a: a.id)]
    return {
        "id": str(message.id),
        "conversation": str(message.conversation_id),
        "seq": message.seq,
        "sender": message.sender.username,
        "content": "" if message.deleted else message.content,
        "attachments": attachments,
        "reactions": reactions,
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "deleted": message.deleted,
        "client_id": message.client_id,
    }


def conversation_payload(conversation: Conversation) -> dict:
    """The base shape; memberships (with users) must be prefetched."""
    memberships = sorted(conversation.memberships.all(), key=lambda m: m.id)
    return {
        "id": str(conversation.id),
        "kind": conversation.kind,
        "title": conversation.title if conversation.kind == Conversation.Kind.GROUP else None,
        "members": [m.user.username for m in memberships],
        "admins": [m.user.username for m in memberships if m.role == m.Role.ADMIN],
        "created_at": iso(conversation.created_at),
        "last_activity_at": iso(conversation.last_activity_at),
        "last_change": conversation.last_change,
    }
