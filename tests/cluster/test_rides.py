"""Rides across nodes: a driver's socket on node 2 gets the offer for a ride requested on node 1."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.cluster.test_feed import api

pytestmark = pytest.mark.cluster

PICKUP = {"lat": 37.7793, "lng": -122.4193}  # inside the default service area (San Francisco)
DROPOFF = {"lat": 37.8024, "lng": -122.4058}

SEED = """
import json
from django.contrib.auth import get_user_model
from core.services import token_for
from rides.services import drivers
User = get_user_model()
rider = User.objects.create_user(username="rita", password="x" * 12)
driver = User.objects.create_user(username="dave", password="x" * 12)
drivers.driver_online(user=driver, vehicle_type="economy", lat={lat}, lng={lng})
print(json.dumps({{"rider": token_for(rider).key, "driver": token_for(driver).key, "driver_id": driver.id}}))
"""


def test_a_drivers_socket_on_node_2_gets_the_offer_for_a_ride_requested_on_node_1(cluster):
    people = cluster.shell(SEED.format(**PICKUP))

    async def main() -> None:
        socket = await connect(f"{cluster.node_ws(2)}/ws/rides/driver/?token={people['driver']}", open_timeout=20,
                               ping_interval=None, max_queue=None)
        try:
            status, ride = await asyncio.to_thread(
                api, cluster.cluster.node_url(1), "POST", "/api/v1/rides", people["rider"],
                {"pickup": PICKUP, "dropoff": DROPOFF, "vehicle_type": "economy"},
            )
            assert status == 201
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            offers = []
            while not offers and loop.time() < deadline:
                frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=deadline - loop.time()))
                if frame["type"] == "ride.offer":
                    offers.append(frame)
            assert [(o["ride"], o["pickup"]) for o in offers] == [(ride["id"], PICKUP)]
        finally:
            await socket.close()

    asyncio.run(main())
