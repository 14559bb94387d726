from django.urls import path

from chat import api
from core import ids  # noqa: F401 - registers the <id:…> converter

urlpatterns = [
    path("conversations", api.ConversationListView.as_view(), name="chat-conversations"),
    path("conversations/<id:conversation_id>", api.ConversationDetailView.as_view(), name="chat-conversation"),
    path("conversations/<id:conversation_id>/members", api.ConversationMembersView.as_view(), name="chat-members"),
    path("conversations/<id:conversation_id>/messages", api.ConversationMessagesView.as_view(),
         name="chat-messages"),
    path("messages/<id:message_id>", api.MessageDetailView.as_view(), name="chat-message"),
    path("messages/<id:message_id>/reactions", api.MessageReactionsView.as_view(), name="chat-reactions"),
    path("attachments", api.AttachmentUploadView.as_view(), name="chat-attachments"),
    path("attachments/<id:attachment_id>", api.AttachmentFileView.as_view(), name="chat-attachment-file"),
    path("attachments/<id:attachment_id>/thumbnail", api.AttachmentFileView.as_view(), {"thumbnail": True},
         name="chat-attachment-thumbnail"),
    path("search", api.SearchView.as_view(), name="chat-search"),
    path("users", api.UserSearchView.as_view(), name="chat-users"),
    path("users/<str:username>/presence", api.PresenceView.as_view(), name="chat-presence"),
    path("blocks", api.BlockListView.as_view(), name="chat-blocks"),
    path("blocks/<str:username>", api.BlockDetailView.as_view(), name="chat-block"),
    path("notifications", api.NotificationListView.as_view(), name="chat-notifications"),
    path("notifications/read", api.NotificationReadView.as_view(), name="chat-notifications-read"),
]
