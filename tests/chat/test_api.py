"""REST contract of /api/v1/chat/: paths, status codes, JSON shapes, scoping."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from chat.models import MAX_ATTACHMENT_BYTES, Attachment, Message, UserPresence
from chat.services.conversations import conversation_create
from chat.services.messages import message_send

pytestmark = pytest.mark.django_db

BASE = "/api/v1/chat"


def _send(user, conversation, n: int, prefix: str = "m") -> list[dict]:
    return [message_send(sender=user, conversation_id=conversation.id, client_id=f"{prefix}{i}", content=f"{prefix} {i}")[0]
            for i in range(n)]


def test_create_direct_conversation_twice_returns_the_same_one(client_for, alice, bob):
    api = client_for(alice)
    first = api.post(f"{BASE}/conversations", {"members": ["bob"]}, format="json")
    again = client_for(bob).post(f"{BASE}/conversations", {"members": ["alice"]}, format="json")
    assert first.status_code == 201 and again.status_code == 200
    body = first.json()
    assert body["id"] == again.json()["id"] and isinstance(body["id"], str)
    assert body["kind"] == "direct" and body["title"] is None
    assert sorted(body["members"]) == ["alice", "bob"]


def test_create_group_and_validation_errors_name_the_field(client_for, alice, bob, carol):
    api = client_for(alice)
    group = api.post(f"{BASE}/conversations", {"members": ["bob", "carol"], "title": "Team"}, format="json")
    assert group.status_code == 201
    assert group.json()["kind"] == "group" and group.json()["admins"] == ["alice"]
    unknown = api.post(f"{BASE}/conversations", {"members": ["nobody"]}, format="json")
    assert unknown.status_code == 400 and "members" in unknown.json()["fields"]
    missing = api.post(f"{BASE}/conversations", {}, format="json")
    assert missing.status_code == 400 and "members" in missing.json()["fields"]


def test_more_than_500_members_is_a_400(client_for, alice, django_user_model):
    django_user_model.objects.bulk_create([django_user_model(username=f"u{i}") for i in range(500)])
    response = client_for(alice).post(f"{BASE}/conversations", {"members": [f"u{i}" for i in range(500)],
                                                                "title": "huge"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "too_many_members"


def test_conversation_list_is_ordered_by_activity_with_unread_and_constant_queries(
        client_for, alice, bob, carol, make_user):
    direct, _ = conversation_create(creator=alice, usernames=["bob"])
    group, _ = conversation_create(creator=carol, usernames=["alice", "bob"], title="g")
    _send(bob, direct, 2, "d")
    _send(carol, group, 3, "g")
    api = client_for(alice)
    api.get(f"{BASE}/conversations")  # warm the token lookup's first-use costs

    with CaptureQueriesContext(connection) as few:
        body = api.get(f"{BASE}/conversations").json()
    assert [c["id"] for c in body] == [str(group.id), str(direct.id)]
    assert [c["unread_count"] for c in body] == [3, 2]
    assert body[0]["last_message"]["content"] == "g 2" and body[0]["last_message"]["seq"] == 3

    for i in range(5):
        other = make_user()
        extra, _ = conversation_create(creator=other, usernames=["alice"], title=f"more {i}")
        _send(other, extra, 1, f"x{i}")
    with CaptureQueriesContext(connection) as many:
        body = api.get(f"{BASE}/conversations").json()
    assert len(body) == 7
    assert len(many) == len(few)


def test_messages_page_by_seq(client_for, alice, bob, direct):
    _send(alice, direct, 10)
    api = client_for(bob)
    url = f"{BASE}/conversations/{direct.id}/messages"
    assert [m["seq"] for m in api.get(url, {"limit": 3}).json()] == [8, 9, 10]
    assert [m["seq"] for m in api.get(url, {"before_seq": 8, "limit": 3}).json()] == [5, 6, 7]
    assert [m["seq"] for m in api.get(url, {"after_seq": 2, "limit": 3}).json()] == [3, 4, 5]
    assert api.get(url, {"limit": "lots"}).status_code == 400


def test_post_message_uses_the_send_service_and_is_idempotent(client_for, alice, bob, direct):
    api = client_for(alice)
    url = f"{BASE}/conversations/{direct.id}/messages"
    first = api.post(url, {"content": "hi", "client_id": "k1"}, format="json")
    retry = api.post(url, {"content": "hi", "client_id": "k1"}, format="json")
    assert first.status_code == 201 and retry.status_code == 200
    message = first.json()
    assert set(message) >= {"id", "conversation", "seq", "sender", "content", "attachments", "created_at",
                            "edited_at", "deleted", "client_id", "reactions"}
    assert retry.json()["id"] == message["id"]
    too_long = api.post(url, {"content": "x" * 4001, "client_id": "k2"}, format="json")
    assert too_long.status_code == 400 and too_long.json()["code"] == "too_long"
    no_client_id = api.post(url, {"content": "x"}, format="json")
    assert no_client_id.status_code == 400 and "client_id" in no_client_id.json()["fields"]


def test_non_members_get_404_for_the_conversation_and_everything_in_it(client_for, alice, bob, carol, direct):
    message = _send(alice, direct, 1)[0]
    api = client_for(carol)
    assert api.get(f"{BASE}/conversations/{direct.id}").status_code == 404
    assert api.get(f"{BASE}/conversations/{direct.id}/messages").status_code == 404
    assert api.post(f"{BASE}/conversations/{direct.id}/messages", {"content": "x", "client_id": "c"},
                    format="json").status_code == 404
    assert api.patch(f"{BASE}/messages/{message['id']}", {"content": "x"}, format="json").status_code == 404
    assert api.delete(f"{BASE}/messages/{message['id']}").status_code == 404
    assert api.post(f"{BASE}/messages/{message['id']}/reactions", {"emoji": "x"}, format="json").status_code == 404
    assert api.post(f"{BASE}/conversations/{direct.id}/members", {"members": ["carol"]},
                    format="json").status_code == 404
    assert api.get(f"{BASE}/conversations/not-a-number").status_code == 404


def test_only_the_sender_edits_or_deletes_and_delete_leaves_a_tombstone(client_for, alice, bob, direct):
    message = _send(alice, direct, 1)[0]
    bob_api, alice_api = client_for(bob), client_for(alice)
    forbidden = bob_api.patch(f"{BASE}/messages/{message['id']}", {"content": "mine now"}, format="json")
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "not_sender"
    assert bob_api.delete(f"{BASE}/messages/{message['id']}").status_code == 403

    deleted = alice_api.delete(f"{BASE}/messages/{message['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    page = bob_api.get(f"{BASE}/conversations/{direct.id}/messages").json()
    assert [(m["seq"], m["deleted"], m["content"]) for m in page] == [(1, True, "")]
    edit_deleted = alice_api.patch(f"{BASE}/messages/{message['id']}", {"content": "back"}, format="json")
    assert edit_deleted.status_code == 400


def test_reactions_add_once_and_remove(client_for, alice, bob, direct):
    message = _send(alice, direct, 1)[0]
    api = client_for(bob)
    url = f"{BASE}/messages/{message['id']}/reactions"
    api.post(url, {"emoji": "🎉"}, format="json")
    again = api.post(url, {"emoji": "🎉"}, format="json")
    assert again.status_code == 201 and again.json()["reactions"] == {"🎉": ["bob"]}
    removed = api.delete(url, {"emoji": "🎉"}, format="json")
    assert removed.status_code == 200 and removed.json()["reactions"] == {}
    assert api.post(url, {"emoji": ""}, format="json").status_code == 400


def test_members_endpoints(client_for, alice, bob, carol, group, make_user):
    make_user("dave")
    added = client_for(alice).post(f"{BASE}/conversations/{group.id}/members", {"members": ["dave"]}, format="json")
    assert added.status_code == 200 and "dave" in added.json()["members"]
    not_admin = client_for(bob).delete(f"{BASE}/conversations/{group.id}/members", {"members": ["dave"]},
                                       format="json")
    assert not_admin.status_code == 403 and not_admin.json()["code"] == "not_admin"
    left = client_for(bob).delete(f"{BASE}/conversations/{group.id}/members", {"members": ["bob"]}, format="json")
    assert left.status_code == 200 and "bob" not in left.json()["members"]
    assert client_for(bob).get(f"{BASE}/conversations/{group.id}/messages").status_code == 404


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "public"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


def _png(size=(800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_image_upload_gets_a_thumbnail_and_can_be_sent(client_for, alice, bob, direct, media_root,
                                                       django_capture_on_commit_callbacks):
    api = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):  # the thumbnail task runs after commit
        response = api.post(f"{BASE}/attachments", {"file": SimpleUploadedFile("photo.png", _png(), "image/png")},
                        format="multipart")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "photo.png" and body["content_type"] == "image/png" and body["size"] > 0
    attachment = Attachment.objects.get(id=int(body["id"]))
    with Image.open(attachment.thumbnail.path) as thumbnail:
        assert max(thumbnail.size) <= 320

    sent = api.post(f"{BASE}/conversations/{direct.id}/messages",
                    {"content": "", "client_id": "pic", "attachment_ids": [body["id"]]}, format="json")
    assert sent.status_code == 201
    assert sent.json()["attachments"][0]["thumbnail_url"]
    reused = api.post(f"{BASE}/conversations/{direct.id}/messages",
                      {"content": "", "client_id": "pic2", "attachment_ids": [body["id"]]}, format="json")
    assert reused.status_code == 400 and reused.json()["code"] == "bad_attachments"


def test_other_files_have_no_thumbnail_and_size_is_limited(client_for, alice, media_root):
    api = client_for(alice)
    text = api.post(f"{BASE}/attachments", {"file": SimpleUploadedFile("notes.txt", b"hello", "text/plain")},
                    format="multipart")
    assert text.status_code == 201 and text.json()["thumbnail_url"] is None
    big = SimpleUploadedFile("big.bin", b"\0" * (MAX_ATTACHMENT_BYTES + 1), "application/octet-stream")
    too_big = api.post(f"{BASE}/attachments", {"file": big}, format="multipart")
    assert too_big.status_code == 400 and too_big.json()["code"] == "file_too_large"
    assert api.post(f"{BASE}/attachments", {}, format="multipart").status_code == 400


def test_search_only_finds_messages_of_the_callers_conversations(client_for, alice, bob, carol):
    mine, _ = conversation_create(creator=alice, usernames=["bob"])
    theirs, _ = conversation_create(creator=bob, usernames=["carol"])
    message_send(sender=alice, conversation_id=mine.id, client_id="1", content="the launch plan is ready")
    message_send(sender=bob, conversation_id=theirs.id, client_id="2", content="secret launch codes")
    api = client_for(alice)
    results = api.get(f"{BASE}/search", {"q": "launch"}).json()["results"]
    assert [r["content"] for r in results] == ["the launch plan is ready"]
    assert api.get(f"{BASE}/search", {"q": "launch", "conversation": str(theirs.id)}).status_code == 404
    assert api.get(f"{BASE}/search").status_code == 400


def test_search_ranks_better_matches_first_on_postgres(client_for, alice, bob, direct, settings):
    if not settings.IS_POSTGRES:
        pytest.skip("ranking is PostgreSQL full-text search")
    message_send(sender=alice, conversation_id=direct.id, client_id="1", content="deploy tonight maybe")
    message_send(sender=alice, conversation_id=direct.id, client_id="2", content="deploy deploy deploy the deploy")
    results = client_for(bob).get(f"{BASE}/search", {"q": "deploy"}).json()["results"]
    assert [r["client_id"] for r in results] == ["2", "1"]


def test_presence_endpoint(client_for, alice, bob, direct):
    api = client_for(alice)
    assert api.get(f"{BASE}/users/bob/presence").json() == {"online": False, "last_seen": None}
    assert api.get(f"{BASE}/users/nobody/presence").status_code == 404
    from django.utils import timezone

    UserPresence.objects.create(user=bob, last_seen=timezone.now())
    assert api.get(f"{BASE}/users/bob/presence").json()["last_seen"]


def test_blocks_crud_and_blocked_direct_messages_are_403(client_for, alice, bob, direct):
    bob_api = client_for(bob)
    assert bob_api.post(f"{BASE}/blocks", {"username": "alice"}, format="json").status_code == 201
    assert [b["username"] for b in bob_api.get(f"{BASE}/blocks").json()] == ["alice"]
    refused = client_for(alice).post(f"{BASE}/conversations/{direct.id}/messages",
                                     {"content": "hey", "client_id": "x"}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "blocked"
    assert bob_api.post(f"{BASE}/blocks", {"username": "bob"}, format="json").status_code == 400
    assert bob_api.delete(f"{BASE}/blocks/alice").status_code == 204
    allowed = client_for(alice).post(f"{BASE}/conversations/{direct.id}/messages",
                                     {"content": "hey", "client_id": "x"}, format="json")
    assert allowed.status_code == 201


def test_user_search_is_a_prefix_match_without_the_caller(client_for, alice, make_user):
    make_user("alicia")
    make_user("bert")
    assert client_for(alice).get(f"{BASE}/users", {"q": "ali"}).json() == [{"username": "alicia"}]


def test_rest_sends_are_rate_limited(client_for, alice, bob, direct, settings):
    settings.CHAT_SEND_RATE_LIMIT = (2, 60)
    api = client_for(alice)
    url = f"{BASE}/conversations/{direct.id}/messages"
    codes = [api.post(url, {"content": "x", "client_id": f"r{i}"}, format="json") for i in range(3)]
    assert [r.status_code for r in codes] == [201, 201, 429]
    assert codes[-1]["Retry-After"]
    assert Message.objects.count() == 2


def test_openapi_schema_lists_the_chat_endpoints(client_for, alice):
    schema = client_for(alice).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/chat/conversations", "/api/v1/chat/conversations/{conversation_id}/messages",
                 "/api/v1/chat/messages/{message_id}/reactions", "/api/v1/chat/attachments", "/api/v1/chat/search",
                 "/api/v1/chat/users/{username}/presence", "/api/v1/chat/blocks", "/api/v1/chat/notifications"):
        assert path in schema["paths"], path


def test_unauthenticated_requests_are_refused(api_client):
    assert api_client.get(f"{BASE}/conversations").status_code in (401, 403)


def test_admin_lists_conversations_and_messages(client, django_user_model, alice, bob, direct):
    _send(alice, direct, 2)
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough-123")
    client.force_login(admin)
    for url in ("/admin/chat/conversation/", f"/admin/chat/conversation/{direct.id}/change/", "/admin/chat/message/",
                f"/admin/chat/message/{Message.objects.first().id}/change/"):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db(transaction=True)
def test_deleting_a_message_removes_its_attachment_files(client_for, alice, bob, media_root):
    conversation, _ = conversation_create(creator=alice, usernames=["bob"])
    api = client_for(alice)
    upload = api.post(f"{BASE}/attachments", {"file": SimpleUploadedFile("p.png", _png(), "image/png")},
                      format="multipart").json()
    attachment = Attachment.objects.get(id=int(upload["id"]))
    paths = [attachment.file.path, attachment.thumbnail.path]
    sent = api.post(f"{BASE}/conversations/{conversation.id}/messages",
                    {"client_id": "x", "attachment_ids": [upload["id"]]}, format="json").json()
    assert api.delete(f"{BASE}/messages/{sent['id']}").json()["attachments"] == []
    assert not Attachment.objects.exists()
    assert not any(os.path.exists(p) for p in paths)


# --- crafted ids ----------------------------------------------------------------
HOSTILE_IDS = ["99999999999999999999", "9223372036854775808", "-1", "-9223372036854775809", "abc", "1e3", "0x10",
               "１２", "12 ", "%00"]


@pytest.mark.parametrize("value", HOSTILE_IDS)
@pytest.mark.parametrize("path", ["conversations/{}", "conversations/{}/messages", "conversations/{}/members",
                                  "messages/{}", "messages/{}/reactions"])
def test_hostile_ids_in_urls_are_404_json(client_for, alice, value, path):
    response = client_for(alice).get(f"{BASE}/{path.format(value)}")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_ids_in_writes_to_urls_are_404(client_for, alice, value):
    api = client_for(alice)
    assert api.post(f"{BASE}/conversations/{value}/messages", {"content": "x", "client_id": "h"},
                    format="json").status_code == 404
    assert api.patch(f"{BASE}/messages/{value}", {"content": "x"}, format="json").status_code == 404
    assert api.post(f"{BASE}/messages/{value}/reactions", {"emoji": "👍"}, format="json").status_code == 404


def test_the_largest_64_bit_id_is_a_plain_404(client_for, alice):
    assert client_for(alice).get(f"{BASE}/conversations/9223372036854775807").status_code == 404


@pytest.mark.parametrize("value", HOSTILE_IDS)
def test_hostile_conversation_in_search_is_404(client_for, alice, bob, direct, value):
    response = client_for(alice).get(f"{BASE}/search", {"q": "x", "conversation": value})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("value", [*HOSTILE_IDS, 9223372036854775808, -1, True, None, 1.5])
def test_hostile_attachment_ids_are_a_400_naming_the_field(client_for, alice, bob, direct, value):
    response = client_for(alice).post(f"{BASE}/conversations/{direct.id}/messages",
                                      {"content": "x", "client_id": "h", "attachment_ids": [value]}, format="json")
    assert response.status_code == 400, response.content
    assert "attachment_ids" in response.json()["fields"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("param", ["after_seq", "before_seq"])
@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "-1", "abc"])
def test_hostile_seqs_in_message_pages_are_a_400_naming_the_field(client_for, alice, bob, direct, param, value):
    response = client_for(alice).get(f"{BASE}/conversations/{direct.id}/messages", {param: value})
    assert response.status_code == 400 and param in response.json()["fields"]


# --- what a signed-in user can learn about others ----------------------------------
def test_presence_of_a_user_sharing_no_conversation_is_404(client_for, alice, bob, carol, direct):
    from django.utils import timezone

    UserPresence.objects.create(user=carol, last_seen=timezone.now())
    response = client_for(alice).get(f"{BASE}/users/carol/presence")
    assert response.status_code == 404 and response.json() == client_for(alice).get(
        f"{BASE}/users/nobody/presence").json()
    assert "last_seen" not in response.json()


def test_presence_is_visible_to_group_co_members_and_oneself(client_for, alice, bob, carol, group):
    assert client_for(bob).get(f"{BASE}/users/carol/presence").status_code == 200
    assert client_for(carol).get(f"{BASE}/users/carol/presence").status_code == 200


def test_presence_is_hidden_again_after_leaving_the_only_shared_conversation(client_for, alice, bob, carol, group):
    client_for(carol).delete(f"{BASE}/conversations/{group.id}/members", {"members": ["carol"]}, format="json")
    assert client_for(bob).get(f"{BASE}/users/carol/presence").status_code == 404


@pytest.mark.parametrize("query", ["", "a", "al", "  al  "])
def test_user_search_needs_three_characters(client_for, alice, make_user, query):
    make_user("alfred")
    response = client_for(alice).get(f"{BASE}/users", {"q": query})
    assert response.status_code == 400 and "q" in response.json()["fields"]


def test_user_search_without_q_is_a_400_naming_q(client_for, alice):
    response = client_for(alice).get(f"{BASE}/users")
    assert response.status_code == 400 and "q" in response.json()["fields"]


def test_user_search_returns_at_most_20(client_for, alice, django_user_model):
    django_user_model.objects.bulk_create([django_user_model(username=f"member{i:02}") for i in range(30)])
    results = client_for(alice).get(f"{BASE}/users", {"q": "mem"}).json()
    assert results == [{"username": f"member{i:02}"} for i in range(20)]
