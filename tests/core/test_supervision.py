"""`make run` under supervisord: a process that dies comes back while the others keep serving."""

import os
import signal
import threading
import time

import pytest

from tests.core._site_process import Site, running_site, supervisord_available

pytestmark = [
    pytest.mark.skipif(not supervisord_available(), reason="supervisord is not installed (pip install supervisor)"),
    pytest.mark.timeout(240),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with running_site(tmp_path_factory.mktemp("site")) as site:
        yield site


class Load:
    """Keeps asking for a page on its own thread, recording every status."""

    def __init__(self, site: Site, path: str):
        self.site, self.path = site, path
        self.statuses: list[int] = []
        self.answered_at: list[float] = []  # time.monotonic() of each answer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.statuses.append(self.site.get(self.path, timeout=5)[0])
            self.answered_at.append(time.monotonic())
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def answers_after(self, moment: float) -> int:
        """How many requests were answered after ``moment`` (a loaded machine answers fewer, never none)."""
        return sum(1 for at in self.answered_at if at > moment)


def test_every_process_runs_under_the_process_manager(site):
    assert {name: site.state(name) for name in site.programs()} == dict.fromkeys(site.programs(), "RUNNING")


def test_a_killed_celery_worker_is_back_within_10_seconds_while_the_site_keeps_answering(site):
    busy = site.shorten("https://example.com/busy")  # its clicks keep the worker's consumer busy
    old = site.pid("worker")
    assert old

    with Load(site, "/") as pages, Load(site, f"/{busy}") as redirects:
        time.sleep(1.5)
        killed_at = time.monotonic()
        os.kill(old, signal.SIGKILL)
        back_after = site.wait_for_new_pid("worker", old, timeout=10)
        time.sleep(1)

    assert back_after < 10
    assert pages.answers_after(killed_at) >= 3 and redirects.answers_after(killed_at) >= 3
    assert set(pages.statuses) == {200}, pages.statuses
    assert set(redirects.statuses) == {302}, redirects.statuses
    # The others were never touched, and the new worker does the work: a fresh click reaches the database.
    assert {site.state(name) for name in ("web:web-0", "beat", "redis")} == {"RUNNING"}
    fresh = site.shorten("https://example.com/after-restart")
    assert site.get(f"/{fresh}", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})[0] == 302
    deadline = time.monotonic() + 15
    while site.stored_clicks(fresh) < 1 and time.monotonic() < deadline:
        time.sleep(0.25)
    assert site.stored_clicks(fresh) == 1


def test_a_killed_embedded_redis_is_back_within_seconds(site):
    old = site.pid("redis")
    assert old and int((site.data_dir / "redis.pid").read_text()) == old

    os.kill(old, signal.SIGKILL)
    back_after = site.wait_for_new_pid("redis", old, timeout=10)

    assert back_after < 10
    deadline = time.monotonic() + 10
    while site.get("/healthz")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    status, body, _ = site.get("/healthz")
    assert status == 200, body
    assert site.state("web:web-0") == "RUNNING"


def test_a_killed_web_process_is_restarted_while_its_sibling_keeps_the_socket_answering(tmp_path):
    with running_site(tmp_path, WEB_CONCURRENCY="2") as site, Load(site, "/healthz") as load:
        first, second = site.pid("web:web-0"), site.pid("web:web-1")
        time.sleep(0.5)

        killed_at = time.monotonic()
        os.kill(first, signal.SIGKILL)
        back_after = site.wait_for_new_pid("web:web-0", first, timeout=10)
        time.sleep(1)
        sibling_now = site.pid("web:web-1")

    assert back_after < 10
    assert sibling_now == second
    assert load.answers_after(killed_at) >= 3
    assert set(load.statuses) == {200}, load.statuses


def test_ctrl_c_stops_every_process_and_redis_saves_on_the_way_out(tmp_path):
    with running_site(tmp_path) as site:
        pids = {name: site.pid(name) for name in site.programs()}
        site.process.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground `make run`
        site.process.wait(timeout=60)

        assert site.process.returncode == 0
        for pid in pids.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)  # gone, not orphaned
        assert (site.data_dir / "redis.rdb").exists()
        assert not (site.data_dir / "redis.pid").exists()
