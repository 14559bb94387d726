"""The hot-path router: answers its routes, hands everything else (and its own failures) to Django."""

import asyncio

import pytest
from channels.testing import HttpCommunicator

from core.asgi import HotPathRouter


async def answer_teapot(scope, receive, send):
    if scope["path"] != "/teapot":
        return None
    await send({"type": "http.response.start", "status": 418, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"short and stout"})
    return 418


async def fail_before_answering(scope, receive, send):
    raise ConnectionError("redis is down")


async def fail_mid_answer(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    raise ConnectionError("lost it half way")


async def django_stand_in(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"from django"})


@pytest.mark.parametrize(("path", "status", "body"), [("/teapot", 418, b"short and stout"), ("/x", 200, b"from django")])
async def test_the_router_answers_its_routes_and_hands_on_the_rest(path, status, body):
    router = HotPathRouter(django_stand_in, handlers=["tests.core.test_asgi.answer_teapot"])

    response = await HttpCommunicator(router, "GET", path).get_response()

    assert (response["status"], response["body"]) == (status, body)


async def test_a_handler_failing_before_it_answers_falls_back_to_django(caplog):
    router = HotPathRouter(django_stand_in, handlers=["tests.core.test_asgi.fail_before_answering"])

    response = await HttpCommunicator(router, "GET", "/anything").get_response()

    assert (response["status"], response["body"]) == (200, b"from django")
    assert "handing the request to Django" in caplog.text


async def test_a_handler_failing_on_every_request_logs_one_line_per_interval_with_a_count(caplog):
    router = HotPathRouter(django_stand_in, handlers=["tests.core.test_asgi.fail_before_answering"])
    router.failures["tests.core.test_asgi"].interval = 0.2

    for _ in range(30):
        assert (await HttpCommunicator(router, "GET", "/anything").get_response())["status"] == 200
    first = [r for r in caplog.records if r.name == "core.asgi"]
    assert len(first) == 1 and first[0].exc_info  # the traceback, once
    await asyncio.sleep(0.25)
    await HttpCommunicator(router, "GET", "/anything").get_response()

    lines = [r for r in caplog.records if r.name == "core.asgi"]
    assert len(lines) == 2
    assert "(29 more like it since the last line)" in lines[1].getMessage() and not lines[1].exc_info


async def test_a_handler_failing_mid_answer_is_not_answered_twice():
    router = HotPathRouter(django_stand_in, handlers=["tests.core.test_asgi.fail_mid_answer"])

    with pytest.raises(ConnectionError):
        await HttpCommunicator(router, "GET", "/anything").get_response()


async def test_the_project_application_serves_static_files_itself():
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": "/static/core/app.css",
        "raw_path": b"/static/core/app.css", "query_string": b"", "headers": [], "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})

    start = await communicator.receive_output(5)
    body = b""
    while True:
        message = await communicator.receive_output(5)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break

    assert start["status"] == 200
    assert (b"content-type", b"text/css") in [(k.lower(), v.split(b";")[0]) for k, v in start["headers"]]
    assert b".card" in body


async def test_a_server_starting_the_application_freezes_what_it_has_loaded_out_of_full_collections():
    import gc

    from asgiref.testing import ApplicationCommunicator

    router = HotPathRouter(django_stand_in, handlers=[])
    gc.unfreeze()
    try:
        communicator = ApplicationCommunicator(router, {"type": "lifespan"})
        await communicator.send_input({"type": "lifespan.startup"})
        assert await communicator.receive_output(5) == {"type": "lifespan.startup.complete"}
        assert gc.get_freeze_count() > 10_000  # Django and the project's modules
        await communicator.send_input({"type": "lifespan.shutdown"})
        assert await communicator.receive_output(5) == {"type": "lifespan.shutdown.complete"}
    finally:
        gc.unfreeze()
