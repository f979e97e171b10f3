"""The rules of webhooks, without a database or HTTP: URLs, event patterns, secrets and their
rotation, signatures as Standard Webhooks defines them, and what follows each answer."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from shop.domain.errors import InvalidValue
from shop.domain.events import WebhookDisabled
from shop.domain.webhooks import (
    DEFAULT_SCHEDULE,
    RESPONSE_KEPT,
    Answer,
    Delivery,
    DeliveryStatus,
    DisabledBecause,
    RetrySchedule,
    Secret,
    UrlPolicy,
    Verdict,
    WebhookEndpoint,
    address_problem,
    check_events,
    check_url,
    sign,
    signature_header,
    subscribes,
)
from tests.fakes import START

KNOWN = frozenset({"order.placed", "order.cancelled", "order.fulfilled", "product.created", "webhook.disabled"})
OPEN = UrlPolicy(allow_private=True)
STRICT = UrlPolicy()
SECRET = Secret(bytes(range(32)))
OTHER = Secret(bytes(range(32, 64)))


def endpoint(**changes: object) -> WebhookEndpoint:
    made = WebhookEndpoint.create(
        url="https://hooks.example.com/shop",
        events=["order.*"],
        secret=SECRET,
        now=START,
        policy=STRICT,
        known=KNOWN,
    )
    for name, value in changes.items():
        setattr(made, name, value)
    return made


def delivery() -> Delivery:
    return Delivery(
        endpoint_id=1, event_id="e-1", event_type="order.placed", aggregate="order:1", body=b"{}", created_at=START
    )


class TestSecret:
    def test_it_is_whsec_and_the_base64_of_its_bytes_and_reads_back(self) -> None:
        assert SECRET.encoded == "whsec_" + base64.b64encode(bytes(range(32))).decode()
        assert Secret.parse(SECRET.encoded) == SECRET

    def test_its_masked_form_shows_only_the_last_four_characters(self) -> None:
        assert SECRET.masked == f"whsec_…{SECRET.encoded[-4:]}"
        assert SECRET.encoded[6:-4] not in SECRET.masked

    @pytest.mark.parametrize("text", ["", "whsec_", "whsec_!!!", base64.b64encode(bytes(32)).decode(), "whsec_AAAA"])
    def test_anything_else_is_no_secret(self, text: str) -> None:
        with pytest.raises(ValueError, match="whsec_"):
            Secret.parse(text)


class TestSignature:
    def test_the_standard_webhooks_library_verifies_it(self) -> None:
        body = b'{"id":"e-1","type":"order.placed"}'
        timestamp = int(START.timestamp())
        header = signature_header([SECRET], "e-1", timestamp, body)

        assert header == Webhook(SECRET.encoded).sign("e-1", START, body.decode())
        assert header.startswith("v1,")

    def test_it_signs_the_id_the_timestamp_and_the_body(self) -> None:
        base = sign(SECRET, "e-1", 100, b"{}")

        assert (
            len(
                {
                    base,
                    sign(SECRET, "e-2", 100, b"{}"),
                    sign(SECRET, "e-1", 101, b"{}"),
                    sign(SECRET, "e-1", 100, b"[]"),
                }
            )
            == 4
        )
        assert sign(OTHER, "e-1", 100, b"{}") != base

    def test_during_a_rotation_both_secrets_sign_separated_by_a_space(self) -> None:
        header = signature_header([OTHER, SECRET], "e-1", 100, b"{}")

        assert header.split(" ") == [sign(OTHER, "e-1", 100, b"{}"), sign(SECRET, "e-1", 100, b"{}")]


class TestAddresses:
    @pytest.mark.parametrize(
        "address",
        ["169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254", "0.0.0.0", "::"],  # noqa: S104
    )
    def test_link_local_metadata_and_unspecified_addresses_are_always_refused(self, address: str) -> None:
        assert address_problem(address, allow_private=True) is not None
        assert address_problem(address, allow_private=False) is not None

    @pytest.mark.parametrize(
        "address",
        ["127.0.0.1", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "fd12::1", "100.64.0.1", "224.0.0.1",
         "::ffff:127.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1"],
    )  # fmt: skip
    def test_loopback_private_shared_and_multicast_need_the_flag(self, address: str) -> None:
        assert address_problem(address, allow_private=False) is not None
        assert address_problem(address, allow_private=True) is None

    @pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::6810:84e5", "8.8.8.8"])
    def test_public_addresses_pass(self, address: str) -> None:
        assert address_problem(address, allow_private=False) is None

    @pytest.mark.parametrize("address", ["192.0.2.1", "198.18.0.1", "240.0.0.1", "255.255.255.255"])
    def test_reserved_addresses_are_refused(self, address: str) -> None:
        assert address_problem(address, allow_private=True) is not None


class TestUrls:
    @pytest.mark.parametrize(
        "url",
        [
            "ftp://example.com/hook",
            "file:///etc/passwd",
            "gopher://example.com/",
            "javascript:alert(1)",
            "https://user:pass@example.com/",
            "https://user@example.com/",
            "https://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "https:///nohost",
            "https://exa mple.com/",
            "https://example.com:0/",
            "https://example.com:99999/",
            "https://example.com/" + "a" * 2048,
        ],
    )
    def test_refused_whatever_the_flag(self, url: str) -> None:
        with pytest.raises(InvalidValue) as refused:
            check_url(url, OPEN)
        assert list(refused.value.errors) == ["url"]

    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:8080/", "http://10.0.0.5/", "http://[::1]/", "http://localhost/", "http://a.localhost/"],
    )
    def test_private_ones_only_with_the_flag(self, url: str) -> None:
        with pytest.raises(InvalidValue):
            check_url(url, STRICT)
        assert check_url(url, OPEN) == url

    def test_plain_http_is_refused_in_production(self) -> None:
        assert check_url("http://hooks.example.com/", STRICT) == "http://hooks.example.com/"
        with pytest.raises(InvalidValue, match="https"):
            check_url("http://hooks.example.com/", UrlPolicy(production=True))
        assert check_url("https://hooks.example.com/x?y=1", UrlPolicy(production=True))


class TestEvents:
    def test_known_types_and_family_patterns_are_taken_once_each(self) -> None:
        assert check_events(["order.placed", "product.*", "order.placed"], KNOWN) == ("order.placed", "product.*")

    @pytest.mark.parametrize(
        "patterns", [["order.shipped"], ["*"], ["cart.*"], ["order.*.x"], ["order"], [], ["webhook.ping.x"]]
    )
    def test_unknown_types_and_empty_lists_are_refused(self, patterns: list[str]) -> None:
        with pytest.raises(InvalidValue) as refused:
            check_events(patterns, KNOWN)
        assert list(refused.value.errors) == ["events"]

    def test_a_pattern_matches_its_family_only(self) -> None:
        assert subscribes(("order.*",), "order.cancelled")
        assert not subscribes(("order.*",), "product.created")
        assert subscribes(("product.created",), "product.created")
        assert not subscribes(("product.created",), "product.changed")


class TestEndpoint:
    def test_create_tells_every_problem_at_once(self) -> None:
        with pytest.raises(InvalidValue) as refused:
            WebhookEndpoint.create(
                url="ftp://x",
                events=["nope"],
                description="d" * 501,
                secret=SECRET,
                now=START,
                policy=STRICT,
                known=KNOWN,
            )
        assert set(refused.value.errors) == {"url", "events", "description"}

    def test_it_takes_the_events_it_subscribes_to_while_enabled(self) -> None:
        made = endpoint()
        assert made.takes("order.placed")
        assert not made.takes("product.created")
        made.change(enabled=False, now=START, policy=STRICT, known=KNOWN)
        assert not made.takes("order.placed")

    def test_a_change_checks_every_field_before_changing_any(self) -> None:
        made = endpoint()
        with pytest.raises(InvalidValue):
            made.change(url="https://new.example.com/", events=["bad"], now=START, policy=STRICT, known=KNOWN)
        assert made.url == "https://hooks.example.com/shop"

    def test_rotation_keeps_the_old_secret_signing_for_24_hours(self) -> None:
        made = endpoint()
        made.rotate(OTHER, START)

        assert made.signing_secrets(START + timedelta(hours=23, minutes=59)) == [OTHER, SECRET]
        assert made.signing_secrets(START + timedelta(hours=24)) == [OTHER]

    def test_410_disables_at_once_and_tells_it(self) -> None:
        made = endpoint()
        made.record(Verdict.GONE, START, timedelta(hours=72))

        assert (made.enabled, made.disabled_reason) == (False, DisabledBecause.GONE)
        [event] = made.events
        assert isinstance(event, WebhookDisabled)
        assert event.reason == "gone"

    def test_failing_for_the_whole_period_disables_and_a_success_in_between_forgives(self) -> None:
        made = endpoint()
        period = timedelta(hours=72)
        made.record(Verdict.RETRY, START, period)
        made.record(Verdict.REFUSED, START + timedelta(hours=71), period)
        assert made.enabled
        made.record(Verdict.SUCCEEDED, START + timedelta(hours=71, minutes=1), period)
        made.record(Verdict.RETRY, START + timedelta(hours=72), period)
        assert made.enabled and made.failing_since == START + timedelta(hours=72)
        made.record(Verdict.RETRY, START + timedelta(hours=144), period)

        assert (made.enabled, made.disabled_reason) == (False, DisabledBecause.FAILING)
        assert [e.reason for e in made.events if isinstance(e, WebhookDisabled)] == ["failing"]

    def test_a_manager_disabling_it_publishes_nothing_and_enabling_forgets_failures(self) -> None:
        made = endpoint(failing_since=START)
        made.change(enabled=False, now=START, policy=STRICT, known=KNOWN)
        assert made.events == []
        made.change(enabled=True, now=START, policy=STRICT, known=KNOWN)
        assert (made.enabled, made.disabled_reason, made.failing_since) == (True, None, None)

    def test_it_needs_recording_only_when_its_state_would_change(self) -> None:
        period = timedelta(hours=72)
        assert not endpoint().needs_record(Verdict.SUCCEEDED, START, period)
        assert endpoint(failing_since=START).needs_record(Verdict.SUCCEEDED, START, period)
        assert endpoint().needs_record(Verdict.RETRY, START, period)
        assert not endpoint(failing_since=START).needs_record(Verdict.RETRY, START + timedelta(hours=1), period)
        assert endpoint(failing_since=START).needs_record(Verdict.RETRY, START + period, period)
        assert endpoint(failing_since=START).needs_record(Verdict.GONE, START, period)


class TestAnswers:
    @pytest.mark.parametrize(
        ("answer", "verdict"),
        [
            (Answer(200), Verdict.SUCCEEDED),
            (Answer(204), Verdict.SUCCEEDED),
            (Answer(500), Verdict.RETRY),
            (Answer(503), Verdict.RETRY),
            (Answer(429), Verdict.RETRY),
            (Answer(301), Verdict.RETRY),
            (Answer(error="timed out"), Verdict.RETRY),
            (Answer(410), Verdict.GONE),
            (Answer(400), Verdict.REFUSED),
            (Answer(404), Verdict.REFUSED),
            (Answer(413), Verdict.REFUSED),
        ],
    )
    def test_what_each_answer_means(self, answer: Answer, verdict: Verdict) -> None:
        assert answer.verdict is verdict


class TestSchedule:
    def test_the_default_is_about_5s_5min_30min_2h_5h_then_10h_three_times(self) -> None:
        assert RetrySchedule().delays == DEFAULT_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 36000, 36000)

    def test_it_parses_comma_separated_seconds(self) -> None:
        assert RetrySchedule.parse("1,2,4").delays == (1.0, 2.0, 4.0)
        for bad in ("", "1,,2", "a", "0", "-1", "1,9999999"):
            with pytest.raises(ValueError, match=r"seconds|wait"):
                RetrySchedule.parse(bad)

    def test_waits_grow_with_jitter_added_never_taken_off(self) -> None:
        schedule = RetrySchedule.parse("1,2,4")

        assert schedule.next_attempt(1, START, 0.0, None) == START + timedelta(seconds=1)
        assert schedule.next_attempt(2, START, 0.999, None) == START + timedelta(seconds=2 * 1.1998)
        assert schedule.next_attempt(3, START, 0.5, None) == START + timedelta(seconds=4.4)
        assert schedule.next_attempt(4, START, 0.0, None) is None

    def test_retry_after_is_a_floor(self) -> None:
        schedule = RetrySchedule.parse("1,2,4")

        assert schedule.next_attempt(1, START, 0.0, 30.0) == START + timedelta(seconds=30)
        assert schedule.next_attempt(3, START, 0.0, 1.0) == START + timedelta(seconds=4)
        assert schedule.next_attempt(1, START, 0.0, 1e12) == START + timedelta(days=7)


class TestDelivery:
    schedule = RetrySchedule.parse("1,2")

    def test_a_new_delivery_is_due_at_once(self) -> None:
        made = delivery()
        assert (made.status, made.next_attempt_at, made.tries) == (DeliveryStatus.PENDING, START, 0)

    def test_success_ends_it(self) -> None:
        made = delivery()
        made.record(Answer(200, duration_ms=12, body=b"ok"), at=START, schedule=self.schedule, draw=0)

        assert (made.status, made.next_attempt_at) == (DeliveryStatus.SUCCEEDED, None)
        [attempt] = made.attempts
        assert (attempt.status_code, attempt.error, attempt.duration_ms, attempt.response_body) == (200, None, 12, "ok")

    def test_failures_retry_on_the_schedule_then_give_up(self) -> None:
        made = delivery()
        made.record(Answer(500), at=START, schedule=self.schedule, draw=0)
        assert (made.status, made.next_attempt_at) == (DeliveryStatus.RETRYING, START + timedelta(seconds=1))
        made.record(Answer(error="connection refused"), at=START, schedule=self.schedule, draw=0)
        assert made.status is DeliveryStatus.RETRYING
        made.record(Answer(502), at=START, schedule=self.schedule, draw=0)

        assert (made.status, made.next_attempt_at, made.tries) == (DeliveryStatus.FAILED, None, 3)
        assert [a.error for a in made.attempts] == [None, "connection refused", None]

    @pytest.mark.parametrize("code", [400, 401, 404, 410, 422])
    def test_other_4xx_and_410_fail_without_retry(self, code: int) -> None:
        made = delivery()
        made.record(Answer(code), at=START, schedule=self.schedule, draw=0)
        assert made.status is DeliveryStatus.FAILED

    def test_429_waits_for_retry_after(self) -> None:
        made = delivery()
        made.record(Answer(429, retry_after=2.5), at=START, schedule=RetrySchedule.parse("1"), draw=0)
        assert made.next_attempt_at == START + timedelta(seconds=2.5)

    def test_only_the_first_2_kib_of_an_answer_are_kept(self) -> None:
        made = delivery()
        made.record(Answer(500, body=b"x" * 5000), at=START, schedule=self.schedule, draw=0)
        assert len(made.attempts[0].response_body) == RESPONSE_KEPT

    def test_a_redelivery_starts_the_schedule_again_and_keeps_the_log(self) -> None:
        made = delivery()
        for _ in range(3):
            made.record(Answer(500), at=START, schedule=self.schedule, draw=0)
        made.redeliver(START + timedelta(hours=1))

        assert (made.status, made.tries, made.next_attempt_at) == (
            DeliveryStatus.PENDING,
            0,
            START + timedelta(hours=1),
        )
        assert len(made.attempts) == 3
