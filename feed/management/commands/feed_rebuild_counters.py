from django.core.management.base import BaseCommand

from feed.services.counters import counters_rebuild


class Command(BaseCommand):
    help = "Recount the feed's counters from the database and restore them in Redis (after Redis lost its data)."

    def handle(self, *args, **options):
        statuses, accounts = counters_rebuild()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt counters of {statuses} statuses and {accounts} accounts."))
