"""``manage.py rides_simulate``: simulated drivers and riders through the real API (see rides/simulation.py)."""

import json
import logging
import math
import time

from django.core.management.base import BaseCommand, CommandError

from rides.simulation import City, SimulationError

BAR_WIDTH = 30


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def _non_negative(value: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = ("Drive simulated drivers and riders through the real REST API (in-process clients) so the "
            "operations dashboard comes alive; prints dispatch figures at the end.")

    def add_arguments(self, parser):
        parser.add_argument("--drivers", type=_positive_int, default=20, help="simulated drivers (default 20)")
        parser.add_argument("--riders", type=_positive_int, default=40, help="simulated riders (default 40)")
        parser.add_argument("--minutes", type=_non_negative, default=5.0, help="simulated minutes (default 5)")
        parser.add_argument("--tick", type=_non_negative, default=4.0,
                            help="simulated seconds per step; drivers report their position every step (default 4)")
        parser.add_argument("--speedup", type=_non_negative, default=1.0,
                            help="simulated seconds per wall-clock second; 0 runs as fast as it can (default 1)")
        parser.add_argument("--request-probability", type=_non_negative, default=None,
                            help="chance an idle rider requests a ride in a step (default: once per ~2 minutes)")
        parser.add_argument("--area", default=None, help="service area slug (default: the first active one)")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for a repeatable run")
        parser.add_argument("--use-worker", action="store_true",
                            help="leave dispatch to the running Celery worker instead of running it in-process")
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args, **options):
        if options["tick"] <= 0:
            raise CommandError("--tick must be above 0.")
        # One line per eager task would tear the progress bar apart.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        if not options["use_worker"]:
            from celery import current_app

            current_app.conf.task_always_eager = True  # dispatch within the API call, no worker needed
        try:
            city = City(drivers_count=options["drivers"], riders_count=options["riders"], tick_s=options["tick"],
                        seed=options["seed"], request_probability=options["request_probability"],
                        area=options["area"])
            city.start()
        except SimulationError as exc:
            raise CommandError(str(exc)) from exc
        steps = max(1, round(options["minutes"] * 60 / options["tick"]))
        pause = options["tick"] / options["speedup"] if options["speedup"] else 0.0
        try:
            for done in range(1, steps + 1):
                started = time.monotonic()
                city.step()
                self._progress(done, steps, city)
                left = pause - (time.monotonic() - started)
                if left > 0:
                    time.sleep(left)
        except KeyboardInterrupt:
            self.stderr.write("\ninterrupted: figures so far")
        finally:
            self.stderr.write("")
            city.stop()
        summary = city.figures.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary, indent=2))
        else:
            self._print(summary, city)

    def _progress(self, done: int, steps: int, city: City) -> None:
        filled = round(BAR_WIDTH * done / steps)
        figures = city.figures
        self.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{steps} steps · "
                          f"{city.elapsed_s / 60:.1f} min · {figures.requests} requests · {figures.accepted} matched · "
                          f"{figures.completed} completed ", ending="")
        self.stderr.flush()

    def _print(self, summary: dict, city: City) -> None:
        latency = summary["dispatch_latency_ms"]
        compare = summary["batched_vs_greedy_total_pickup_eta_s"]
        rate = summary["match_rate"]
        lines = [
            f"simulated {city.elapsed_s / 60:.1f} min in {city.area.slug}: {len(city.drivers)} drivers, "
            f"{len(city.riders)} riders",
            f"requests: {summary['requests']} (refused before requesting: {summary['refused'] or 'none'})",
            f"match rate: {'–' if rate is None else f'{rate:.1%}'} ({summary['accepted']} accepted, "
            f"{summary['no_drivers']} without drivers, {summary['declined_offers']} offers declined)",
            f"completed: {summary['completed']}",
            f"mean pickup ETA at acceptance: {summary['mean_pickup_eta_s'] if summary['mean_pickup_eta_s'] is not None else '–'} s",
            f"dispatch latency (request → first offer): p50 {latency['p50']} ms, p95 {latency['p95']} ms "
            f"over {latency['samples']} rides",
            f"location updates: {summary['location_updates']}",
            f"total pickup ETA, batched vs greedy on {compare['scenarios']} snapshots: "
            f"{compare['batched']} s vs {compare['greedy']} s",
        ]
        self.stdout.write("\n".join(lines))
