"""Generated short codes: 7 characters, distinct by construction, unordered, growing past a threshold."""

import threading

import pytest
from django.db import connection

from core import base62, codes
from core.store import SHORT_CODE_SEQUENCE_KEY
from shortener.models import Link
from shortener.services import links

KEY = b"a fixed test key"


@pytest.fixture(autouse=True)
def fresh_block():
    """Tests here move the shared counter around: no block of this process may outlive them."""
    links.code_sequence.forget_block()
    yield
    links.code_sequence.forget_block()


def test_codes_are_seven_base62_characters():
    for sequence in (0, 1, 61, 62, 10**6, codes.length_capacity(7) - 1):
        code = codes.code_for(sequence, key=KEY)
        assert len(code) == 7
        assert set(code) <= set(base62.ALPHABET)


def test_a_hundred_thousand_consecutive_counter_values_give_distinct_codes():
    start = 5_000_000
    generated = [codes.code_for(n, key=KEY) for n in range(start, start + 100_000)]
    assert len(set(generated)) == 100_000
    assert {len(code) for code in generated} == {7}


@pytest.mark.parametrize("domain", [2, 62, 1000, 62**3])
def test_the_permutation_is_a_bijection_of_its_domain(domain):
    permutation = codes.FeistelPermutation(domain, KEY)
    images = [permutation.permute(value) for value in range(domain)]
    assert sorted(images) == list(range(domain))
    assert all(permutation.invert(image) == value for value, image in enumerate(images))


def test_the_permutation_depends_on_the_key():
    assert [codes.code_for(n, key=KEY) for n in range(20)] != [codes.code_for(n, key=b"another") for n in range(20)]


def test_consecutive_codes_are_not_sequential():
    generated = [codes.code_for(n, key=KEY) for n in range(1000)]
    numbers = [base62.decode(code) for code in generated]
    # Neighbours land far apart and in no order: nothing to enumerate from a code one was given.
    steps = [abs(b - a) for a, b in zip(numbers, numbers[1:], strict=False)]
    assert min(steps) > 1000
    assert generated != sorted(generated)
    ascending = sum(b > a for a, b in zip(numbers, numbers[1:], strict=False))
    assert 350 < ascending < 650
    assert len({code[:3] for code in generated}) > 900


def test_codes_grow_to_eight_characters_past_the_threshold():
    threshold = codes.length_capacity(7)
    assert threshold == int(62**7 * codes.CODE_SPACE_SHARE)
    assert len(codes.code_for(threshold - 1, key=KEY)) == 7
    past = [codes.code_for(threshold + n, key=KEY) for n in range(1000)]
    assert {len(code) for code in past} == {8}
    assert len(set(past)) == 1000
    assert len(codes.code_for(threshold + codes.length_capacity(8), key=KEY)) == 9


def test_sequence_of_inverts_code_for_across_lengths():
    threshold = codes.length_capacity(7)
    for sequence in (0, 12345, threshold - 1, threshold, threshold + 98765):
        assert codes.sequence_of(codes.code_for(sequence, key=KEY), key=KEY) == sequence
    assert codes.sequence_of("abc", key=KEY) is None  # an alias shorter than any generated code


@pytest.mark.django_db
def test_links_get_codes_from_consecutive_blocks_of_the_shared_counter(make_link, clean_redis):
    first = make_link()
    second = make_link()
    assert len(first.short_code) == len(second.short_code) == 7
    assert second.code_seq == first.code_seq + 1
    # The whole block was taken from Redis at once: the counter is already past both.
    assert int(clean_redis.get(SHORT_CODE_SEQUENCE_KEY)) >= second.code_seq + 1


@pytest.mark.django_db
def test_links_switch_to_eight_characters_when_the_counter_passes_the_threshold(make_link, clean_redis):
    clean_redis.set(SHORT_CODE_SEQUENCE_KEY, codes.length_capacity(7) - 1)
    last_seven, first_eight = make_link(), make_link()
    assert (len(last_seven.short_code), len(first_eight.short_code)) == (7, 8)


@pytest.mark.django_db
def test_a_lost_counter_is_seeded_past_the_highest_stored_value(make_link, clean_redis):
    link = make_link()
    clean_redis.delete(SHORT_CODE_SEQUENCE_KEY)
    links.code_sequence.forget_block()
    assert make_link().code_seq == link.code_seq + 1


@pytest.mark.django_db
def test_a_counter_that_went_back_skips_codes_already_taken(make_link, clean_redis):
    taken = make_link()
    # Redis restored from an old snapshot hands out a value a stored link already used.
    clean_redis.set(SHORT_CODE_SEQUENCE_KEY, taken.code_seq)
    links.code_sequence.forget_block()
    fresh = make_link()
    assert fresh.short_code != taken.short_code
    assert fresh.code_seq > taken.code_seq
    assert Link.objects.count() == 2


@pytest.mark.django_db
def test_a_generated_code_equal_to_a_reserved_word_is_skipped(make_link, monkeypatch):
    real = codes.code_for
    monkeypatch.setattr(codes, "code_for", lambda sequence: "healthz" if sequence % 2 == 0 else real(sequence))
    generated = [make_link().short_code for _ in range(4)]
    assert "healthz" not in generated
    assert len(set(generated)) == 4


def test_allocators_in_many_threads_never_hand_out_a_value_twice(clean_redis):
    allocators = [codes.SequenceAllocator(floor=lambda: 0, block_size=7) for _ in range(4)]
    barrier = threading.Barrier(8)
    taken: list[list[int]] = [[] for _ in range(8)]

    def worker(i):
        barrier.wait()
        allocator = allocators[i % 4]  # two threads share each allocator, four allocators share Redis
        taken[i].extend(allocator.next() for _ in range(500))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values = [value for chunk in taken for value in chunk]
    assert len(values) == 4000
    assert len(set(values)) == 4000


@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_never_collide(make_user):
    owners = [make_user(f"creator{i}") for i in range(6)]
    barrier = threading.Barrier(6)
    created: list[list[str]] = [[] for _ in range(6)]
    errors: list[BaseException] = []

    def worker(i):
        try:
            barrier.wait()
            for n in range(15):
                data = links.link_input_from({"long_url": f"https://example.com/{i}/{n}"})
                created[i].append(links.link_create(owner=owners[i], data=data).short_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    generated = [code for chunk in created for code in chunk]
    assert len(generated) == len(set(generated)) == 90
    assert {len(code) for code in generated} == {7}
    assert Link.objects.filter(short_code__in=generated).count() == 90


@pytest.mark.django_db
def test_links_with_the_older_snowflake_codes_keep_working(auth_client, client):
    from datetime import timedelta

    from django.utils import timezone

    from core.snowflake import next_id

    link_id = next_id()
    old = Link.objects.create(id=link_id, short_code=base62.encode(link_id), owner=auth_client.user,
                              long_url="https://example.com/old", expires_at=timezone.now() + timedelta(days=30))
    assert len(old.short_code) >= 10 and old.code_seq is None
    assert client.get(f"/{old.short_code}")["Location"] == "https://example.com/old"
    response = auth_client.patch(f"/api/v1/links/{old.short_code}", {"long_url": "https://example.com/moved"},
                                 format="json")
    assert response.status_code == 200
    assert client.get(f"/{old.short_code}")["Location"] == "https://example.com/moved"
    fresh = links.link_create(owner=auth_client.user, data=links.link_input_from({"long_url": "https://example.com/"}))
    assert len(fresh.short_code) == 7
