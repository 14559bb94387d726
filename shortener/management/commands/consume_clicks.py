from django.core.management.base import BaseCommand

from shortener.services.clicks import consume_forever


class Command(BaseCommand):
    help = "Run a click consumer loop (stream -> Click rows + rollups), printing progress."

    def add_arguments(self, parser):
        parser.add_argument("--seconds", type=float, default=None, help="Stop after this many seconds.")

    def handle(self, *args, seconds=None, **options):
        try:
            consume_forever(stdout=self.stdout, stop_after=seconds)
        except KeyboardInterrupt:
            self.stdout.write("stopped")
