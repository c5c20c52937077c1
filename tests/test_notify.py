"""Notifications, against a real HTTP server receiving them: each selected emitted event
reaches each target that selects it, as a generic webhook's JSON or in ntfy's format; a
target that stalls past its timeout, or answers 5xx, is tried again after a back-off, and
after the last try the delivery is dead-lettered; every try is in the journal, and one
undeliverable event never stops the rest. Killed with -9 and restarted, the notifier sends
each selected event to each target once. The test command answers over CLI and HTTP."""

import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import httpx
import orjson
import pytest

from tests.http_server import AUTH, SAMPLE, SAMPLE_END, TOKEN, running_server
from tests.live_harness import emitted, wait_for
from tests.webhook_receiver import Answer, Receiver, receiving
from trueup.adapters.notify import message
from trueup.adapters.notify.target import Retries, Selection, Target, TargetKind
from trueup.adapters.store.journal import Journal
from trueup.application.backlog import BacklogLimits
from trueup.application.loop_status import Acknowledgement, LoopStatus, loop_status
from trueup.application.notifier import Notifier
from trueup.application.notifier import log as notifier_log
from trueup.domain.emitted import Emitted, WsReconnect
from trueup.domain.events import NotificationAttempted
from trueup.domain.reconciler import Reconciler
from trueup.domain.vocabulary import NotificationOutcome
from trueup.runners.cli import main
from trueup.runners.http_api import ApiSettings
from trueup.runners.notify_config import load_targets
from trueup.runners.supervised import run_supervised

T0 = 1_762_199_000_000
TRUEUP = (sys.executable, "-m", "trueup.runners.cli")
EVERY_EVENT = Selection()
FAST = Retries(max_attempts=3, backoff_s=0.05, max_backoff_s=0.2)
DELIVERED, FAILED, DEAD = (
    NotificationOutcome.DELIVERED,
    NotificationOutcome.FAILED,
    NotificationOutcome.DEAD_LETTERED,
)


@pytest.fixture
def store(tmp_path: Path) -> str:
    return str(tmp_path / "journal.db")


def sample_journal(store: str) -> None:
    assert main(["--store", store, "ingest", str(SAMPLE)]) == 0


def said(store: str, *events: Emitted) -> None:
    """Store emitted events as the projection would."""
    with Journal.open(store) as journal:
        journal.record(list(events), {})


def reconnects(count: int, venue: str = "bybit", account: str = "main") -> list[Emitted]:
    return [
        WsReconnect(venue=venue, account=account, at=T0 + n, cause=f"c-{n}", reason=f"drop {n}")
        for n in range(count)
    ]


def tries(store: str) -> list[NotificationAttempted]:
    with Journal.open(store) as journal:
        return [e for _, e in journal.all_events() if isinstance(e, NotificationAttempted)]


def webhook(
    receiver: Receiver,
    path: str = "/hook",
    *,
    selection: Selection = EVERY_EVENT,
    timeout_s: float = 2.0,
    retries: Retries = FAST,
) -> Target:
    """A generic webhook target named after its path on the receiver."""
    return Target(
        name=path.strip("/"),
        kind=TargetKind.WEBHOOK,
        url=receiver.url + path,
        selection=selection,
        timeout_s=timeout_s,
        retries=retries,
    )


def notify_until(journal: Journal, targets: list[Target], check: "Check") -> Notifier:
    """Step a notifier until ``check`` holds (or 20 s pass)."""
    notifier = Notifier(journal, targets)
    deadline = time.monotonic() + 20
    try:
        while not check():
            assert time.monotonic() < deadline, "the notifier did not get there"
            notifier.step()
            time.sleep(0.01)
    finally:
        notifier.release()
    return notifier


class Check:
    def __init__(self, store: str, count: int, *outcomes: NotificationOutcome) -> None:
        self.store, self.count, self.outcomes = store, count, outcomes or (DELIVERED, DEAD)

    def __call__(self) -> bool:
        return sum(1 for t in tries(self.store) if t.outcome in self.outcomes) >= self.count


@contextmanager
def socket_nobody_listens_on() -> Iterator[int]:
    """A port that was free a moment ago: a connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    yield port


def cli(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()  # what came before is not this command's
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- what each kind of target receives -------------------------------------------------------


def test_a_webhook_gets_each_selected_event_as_trueup_events_json_prints_it(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sample_journal(store)
    chosen = {"POSITION_CLOSED", "STALE_POSITION"}
    with receiving() as receiver, Journal.open(store) as journal:
        target = webhook(receiver, selection=Selection(frozenset(chosen)))
        notify_until(journal, [target], Check(store, 3))
    _, out, _ = cli("--store", store, "events", "--emitted", "--json", capsys=capsys)
    printed = [orjson.loads(line) for line in out.splitlines()]
    wanted = [e for e in printed if e["type"] in chosen]
    assert len(wanted) == 3
    assert [r.json() for r in receiver.answered()] == wanted
    first = receiver.answered()[0]
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-Trueup-Event-Type"] == "STALE_POSITION"
    assert len({r.headers["Idempotency-Key"] for r in receiver.answered()}) == 3
    assert {(t.event_id, t.outcome, t.attempt, t.status) for t in tries(store)} == {
        (e["event_id"], DELIVERED, 1, 200) for e in wanted
    }


def test_accounts_are_selected_by_venue_and_account_patterns(store: str) -> None:
    said(store, *reconnects(2), *reconnects(2, account="other"), *reconnects(1, "hyperliquid"))
    with receiving() as receiver, Journal.open(store) as journal:
        target = webhook(receiver, selection=Selection(accounts=("bybit/m*", "hyperliquid/*")))
        notify_until(journal, [target], Check(store, 3))
        time.sleep(0.1)
    assert sorted((r.json()["venue"], r.json()["account"]) for r in receiver.answered()) == [
        ("bybit", "main"), ("bybit", "main"), ("hyperliquid", "main"),
    ]  # fmt: skip


def test_ntfy_gets_a_title_priority_tags_and_a_plain_text_body_with_the_bearer_from_the_env(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample_journal(store)
    monkeypatch.setenv("NTFY_TEST_TOKEN", "tk_not_a_real_token")
    with receiving() as receiver, Journal.open(store) as journal:
        config = tmp_path / "notify.toml"
        config.write_text(
            "[[target]]\n"
            'name = "phone"\nkind = "ntfy"\n'
            f'url = "{receiver.url}/trueup-alerts"\n'
            'types = ["POSITION_CLOSED"]\npriority = 4\ntags = ["warning"]\n'
            'bearer_env = "NTFY_TEST_TOKEN"\n'
        )
        notify_until(journal, load_targets(config), Check(store, 1))
    (request,) = receiver.answered()
    assert request.path == "/trueup-alerts"
    assert request.headers["Title"] == "POSITION_CLOSED bybit/main ETHUSDT"
    assert request.headers["Priority"] == "4"
    assert request.headers["Tags"] == "warning,trueup,position_closed"
    assert request.headers["Authorization"] == "Bearer tk_not_a_real_token"
    assert request.headers["Content-Type"].startswith("text/plain")
    body = request.body.decode()
    assert body.startswith("at 2025-11-03T19:47:22.524Z\n")
    assert "exit_reason: MANUAL" in body
    assert "position_id: p-eth-1" in body


def test_a_title_no_header_can_carry_goes_as_an_encoded_word_and_is_delivered(store: str) -> None:
    hostile = WsReconnect(
        venue="bybit", account="ü\r\nX-Injected: 1", at=T0, cause="c", reason="r\n\x00"
    )
    said(store, hostile)
    with receiving() as receiver, Journal.open(store) as journal:
        target = Target(name="phone", kind=TargetKind.NTFY, url=receiver.url + "/t", retries=FAST)
        notify_until(journal, [target], Check(store, 1))
    (request,) = receiver.answered()
    assert "X-Injected" not in request.headers
    assert request.headers["Title"].startswith("=?UTF-8?B?")
    assert [t.outcome for t in tries(store)] == [DELIVERED]


# --- timeouts, retries, dead letters ----------------------------------------------------------


def test_a_target_that_stalls_past_its_timeout_fails_that_try_and_the_next_delivers(
    store: str,
) -> None:
    said(store, *reconnects(1))
    stalls_once = receiving(lambda _, n: Answer(stall_s=1.5 if n == 0 else 0))
    with stalls_once as receiver, Journal.open(store) as journal:
        notify_until(journal, [webhook(receiver, timeout_s=0.3)], Check(store, 1))
    first, second = tries(store)
    assert (first.attempt, first.outcome, first.reason) == (1, FAILED, "timed out after 0.3 s")
    assert 300 <= first.elapsed_ms < 1500
    assert (second.attempt, second.outcome, second.status) == (2, DELIVERED, 200)


def test_a_5xx_is_tried_again_after_a_back_off_that_doubles(store: str) -> None:
    said(store, *reconnects(1))
    retries = Retries(max_attempts=4, backoff_s=0.2, max_backoff_s=5)
    twice_busy = receiving(lambda _, n: Answer(503 if n < 2 else 200))
    with twice_busy as receiver, Journal.open(store) as journal:
        notify_until(journal, [webhook(receiver, retries=retries)], Check(store, 1))
    came = [r.at for r in receiver.answered()]
    assert len(came) == 3
    assert came[1] - came[0] >= 0.2
    assert came[2] - came[1] >= 0.4
    assert [(t.attempt, t.outcome, t.reason) for t in tries(store)] == [
        (1, FAILED, "HTTP 503"), (2, FAILED, "HTTP 503"), (3, DELIVERED, ""),
    ]  # fmt: skip


def test_after_the_last_try_a_dead_letter_and_a_dead_target_holds_up_no_other(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    said(store, *reconnects(3))
    one_down = receiving(lambda path, _: Answer(500 if path == "/down" else 200))
    with one_down as receiver, Journal.open(store) as journal:
        targets = [webhook(receiver, "/down"), webhook(receiver, "/up")]
        notify_until(journal, targets, Check(store, 6))
    assert len(receiver.on("/down")) == 9  # three tries of each of three events
    assert len(receiver.on("/up")) == 3
    dead = [t for t in tries(store) if t.outcome is DEAD]
    assert sorted((t.target, t.attempt, t.reason) for t in dead) == [("down", 3, "HTTP 500")] * 3
    # Did anyone get told?
    code, out, _ = cli("--store", store, "notify", "list", "--dead-letters", capsys=capsys)
    assert code == 0
    assert out.count("dead-lettered") == 3 and "-> down" in out and "-> up" not in out
    event_id = dead[0].event_id
    code, out, _ = cli(
        "--store", store, "notify", "list", "--event", event_id, "--json", capsys=capsys
    )
    assert code == 0
    records = {r["target"]: r for r in map(orjson.loads, out.splitlines())}
    assert records["up"]["outcome"] == "delivered" and records["up"]["attempts"] == 1
    assert records["down"]["outcome"] == "dead-lettered" and records["down"]["attempts"] == 3
    assert records["down"]["reason"] == "HTTP 500"
    code, out, _ = cli("--store", store, "notify", "list", "--event", "no-such", capsys=capsys)
    assert (code, out) == (1, "nobody was told of no-such\n")


def test_a_refusal_no_retry_mends_is_dead_lettered_at_once(store: str) -> None:
    said(store, *reconnects(1))
    with receiving(lambda _, _n: Answer(404)) as receiver, Journal.open(store) as journal:
        notify_until(journal, [webhook(receiver)], Check(store, 1))
    assert len(receiver.on("/hook")) == 1
    ((attempt, outcome, reason),) = [(t.attempt, t.outcome, t.reason) for t in tries(store)]
    assert (attempt, outcome, reason) == (1, DEAD, "HTTP 404 (not retried)")


def test_an_unsendable_event_is_recorded_and_the_notifier_goes_on(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = reconnects(3)
    said(store, *events)
    hostile = events[1].event_id
    real_render = message.render

    def render(target: Target, document: dict[str, object]) -> object:
        if document["event_id"] == hostile:
            raise ValueError("no request can carry this")
        return real_render(target, document)

    monkeypatch.setattr("trueup.application.notifier.render", render)
    with receiving() as receiver, Journal.open(store) as journal:
        notify_until(journal, [webhook(receiver)], Check(store, 3))
    assert [r.json()["event_id"] for r in receiver.answered()] == [
        events[0].event_id, events[2].event_id,
    ]  # fmt: skip
    (dead,) = [t for t in tries(store) if t.outcome is DEAD]
    assert dead.event_id == hostile
    assert dead.reason == "could not render it: ValueError('no request can carry this')"


def test_an_unreachable_target_s_reason_never_shows_its_url(store: str) -> None:
    said(store, *reconnects(1))
    with socket_nobody_listens_on() as port, Journal.open(store) as journal:
        secret_url = f"http://127.0.0.1:{port}/topic-s3cret-token?key=hunter22"
        target = Target(name="gone", kind=TargetKind.WEBHOOK, url=secret_url, retries=FAST)
        notify_until(journal, [target], Check(store, 1))
    reasons = [t.reason for t in tries(store)]
    assert len(reasons) == 3 and reasons[0].startswith("could not reach it: ConnectError")
    assert not any("s3cret" in r or "hunter22" in r for r in reasons)
    assert "s3cret" not in repr(target)


# --- records the rules ignore, progress the notifier keeps -----------------------------------


def test_the_rules_ignore_the_notifier_s_records(store: str) -> None:
    sample_journal(store)
    with receiving() as receiver, Journal.open(store) as journal:
        count = len(emitted(store))
        notify_until(journal, [webhook(receiver)], Check(store, count))
        inputs = [e for _, e in journal.all_events() if not isinstance(e, Emitted)]
        assert sum(isinstance(e, NotificationAttempted) for e in inputs) == count == 21
        # The rules, given every input including the records, say what they said without.
        with_records, reconciler = Reconciler(), Reconciler()
        said_with = [e for event in inputs for e in with_records.apply(event)]
        without = [
            e for ev in inputs if not isinstance(ev, NotificationAttempted)
            for e in reconciler.apply(ev)
        ]  # fmt: skip
        assert said_with == without
        assert emitted(store) == without


def test_a_second_notifier_of_the_same_name_stands_by(store: str) -> None:
    said(store, *reconnects(2))
    with receiving() as receiver, Journal.open(store) as journal:
        first = Notifier(journal, [webhook(receiver)])
        second = Notifier(journal, [webhook(receiver)])
        try:
            assert first.step().holding
            assert not second.step().holding
        finally:
            first.release()
            second.release()
    assert len(receiver.answered()) == 2


def test_killed_with_9_mid_stream_and_restarted_every_event_reaches_each_target_once(
    store: str, tmp_path: Path
) -> None:
    count = 40
    said(store, *reconnects(count))
    holds = {15: Answer(hang_up=True), 50: Answer(hang_up=True)}
    seen = Counter[str]()

    def answering(path: str, _: int) -> Answer:
        seen["all"] += 1
        return holds.get(seen["all"], Answer())

    with receiving(answering) as receiver:
        config = tmp_path / "notify.toml"
        config.write_text(
            f'[[target]]\nname = "hook"\nurl = "{receiver.url}/hook"\n'
            f'[[target]]\nname = "phone"\nkind = "ntfy"\nurl = "{receiver.url}/phone"\n'
        )
        process = start_notifier(store, config)
        try:
            for at in sorted(holds):
                wait_for(f"request {at}", partial(came_at_least, seen, at), timeout=30)
                process.kill()  # while it waits on the answer to request ``at``
                process.wait(timeout=10)
                holds[at].released.set()
                process = start_notifier(store, config)
            wait_for("every delivery", lambda: len(receiver.answered()) == 2 * count, 30)
            time.sleep(0.3)  # nothing more comes
        finally:
            process.send_signal(signal.SIGTERM)
            _out, err = process.communicate(timeout=30)
            assert "Traceback" not in err, err
    ids = [e.event_id for e in emitted(store)]
    answered = Counter((r.path, r.headers["Idempotency-Key"]) for r in receiver.answered())
    assert max(answered.values()) == 1
    assert len(answered) == 2 * count
    assert len([r for r in receiver.received if not r.answered]) == 2  # the two held
    delivered = Counter((t.target, t.event_id) for t in tries(store) if t.outcome is DELIVERED)
    assert set(delivered) == {(target, i) for target in ("hook", "phone") for i in ids}
    assert set(delivered.values()) == {1}


def came_at_least(seen: Counter[str], count: int) -> bool:
    return seen["all"] >= count


def start_notifier(store: str, config: Path) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [*TRUEUP, "--store", store, "notify", "--config", str(config), "--poll-ms", "20"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- the test command ----------------------------------------------------------------------------


def test_notify_test_sends_to_each_target_and_exits_1_if_any_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_TEST_KEY", "k-3f9a-not-a-secret")
    with receiving(lambda path, _: Answer(503 if path == "/down" else 200)) as receiver:
        config = tmp_path / "notify.toml"
        config.write_text(
            f'[[target]]\nname = "hook"\nurl = "{receiver.url}/hook"\n'
            'headers_env = { "X-Api-Key" = "HOOK_TEST_KEY" }\n'
            f'[[target]]\nname = "down"\nkind = "ntfy"\nurl = "{receiver.url}/down"\n'
        )
        # No journal needed: only the targets.
        store = str(tmp_path / "none.db")
        code, out, _ = cli(
            "--store", store, "notify", "test", "--config", str(config), "--target", "hook",
            capsys=capsys,
        )  # fmt: skip
        assert code == 0
        assert out.startswith(f"hook (webhook, {receiver.url}/***): delivered in ")
        code, out, _ = cli(
            "--store", store, "notify", "test", "--config", str(config), "--json", capsys=capsys
        )
        assert code == 1
        results = {r["target"]: r for r in map(orjson.loads, out.splitlines())}
        assert results["hook"]["delivered"] and not results["down"]["delivered"]
        assert (results["down"]["status"], results["down"]["reason"]) == (503, "HTTP 503")
        code, _, err = cli(
            "--store", store, "notify", "test", "--config", str(config), "--target", "x",
            capsys=capsys,
        )  # fmt: skip
        assert code == 2 and "no target 'x'" in err
    hook = receiver.on("/hook")
    assert hook[0].json()["type"] == "NOTIFY_TEST"
    assert hook[0].headers["X-Api-Key"] == "k-3f9a-not-a-secret"
    assert receiver.on("/down")[0].headers["Title"] == "NOTIFY_TEST"
    assert not Path(store).exists()


def test_post_notify_test_sends_through_the_server_with_its_token(
    store: str, tmp_path: Path
) -> None:
    sample_journal(store)
    with (
        receiving() as receiver,
        Journal.open(store, create=False) as journal,
    ):
        targets = (webhook(receiver, "/a"), webhook(receiver, "/b"))
        settings = ApiSettings(token=TOKEN, notify_targets=targets)
        with running_server(journal, settings, lambda: SAMPLE_END) as url:
            assert httpx.post(f"{url}/v1/notify/test").status_code == 401
            answer = httpx.post(f"{url}/v1/notify/test", headers=AUTH, timeout=10)
            assert answer.status_code == 200
            document = answer.json()
            assert document["delivered"] is True
            assert [r["target"] for r in document["results"]] == ["a", "b"]
            only = httpx.post(f"{url}/v1/notify/test?target=b", headers=AUTH, timeout=10)
            assert [r["target"] for r in only.json()["results"]] == ["b"]
            missing = httpx.post(f"{url}/v1/notify/test?target=c", headers=AUTH)
            assert missing.status_code == 404
            assert "/v1/notify/test" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert [r.path for r in receiver.answered()] == ["/a", "/b", "/b"]


# --- the configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            'url = "http://h/x"\nbearer_env = "TRUEUP_NO_SUCH_VARIABLE"',
            "'TRUEUP_NO_SUCH_VARIABLE' is not set",
        ),
        (
            'url = "http://h/x"\ntypes = ["POSITION_CLOSE"]',
            "['POSITION_CLOSE'] are not emitted types",
        ),
        ('url = "ftp://h/s3cret"', "url: an http(s)://host/... URL"),
        ('url = "http://h/x"\nmax_attempts = 0', "max_attempts: a whole number from 1 to 100"),
        ('url = "http://h/x"\ntimeout_s = nan', "timeout_s: a number above 0"),
        ('url = "http://h/x"\nsecret = "s3cret"', "unknown key(s) ['secret']"),
        ('url_env = "TRUEUP_NO_SUCH_VARIABLE"', "'TRUEUP_NO_SUCH_VARIABLE' is not set"),
    ],
)
def test_a_wrong_config_is_refused_naming_the_key_never_the_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, said: str
) -> None:
    config = tmp_path / "notify.toml"
    config.write_text(f'[[target]]\nname = "t"\n{text}\n')
    code, _, err = cli("notify", "test", "--config", str(config), capsys=capsys)
    assert code == 2
    assert said in err
    assert "s3cret" not in err


def test_a_new_notifier_from_now_sends_only_what_is_emitted_after_it_starts(store: str) -> None:
    old, new = reconnects(2), reconnects(1, account="later")
    said(store, *old)
    with receiving() as receiver, Journal.open(store) as journal:
        notifier = Notifier(journal, [webhook(receiver)], from_now=True)
        try:
            notifier.step()
            said(store, *new)
            wait_for("the new event", lambda: bool(notifier.step().delivered), timeout=10)
        finally:
            notifier.release()
    assert [r.json()["event_id"] for r in receiver.answered()] == [new[0].event_id]


# --- /health judges a notifier's backlog -------------------------------------------------------


@contextmanager
def notifier_running(journal: Journal, targets: list[Target], at: int) -> Iterator[Notifier]:
    """A notifier supervised as `trueup notify` runs it, in a thread, its clock at ``at``."""
    notifier = Notifier(journal, targets, clock=lambda: at)
    stop = threading.Event()
    thread = threading.Thread(
        target=run_supervised, args=(notifier, 10, stop, notifier_log, "notifier")
    )
    thread.start()
    try:
        yield notifier
    finally:
        stop.set()
        thread.join(10)


def health_at(journal: Journal, limits: BacklogLimits, *instants: int) -> list[httpx.Response]:
    """/health asked once at each instant, of a server with these limits."""
    now = [0]
    answers = []
    settings = ApiSettings(token=TOKEN, notifier_limits=limits)
    with running_server(journal, settings, lambda: now[0]) as url:
        for instant in instants:
            now[0] = instant
            answers.append(httpx.get(f"{url}/health", timeout=10))
    return answers


def test_health_is_503_while_a_notifier_has_dead_lettered_more_than_its_limit_lately(
    store: str,
) -> None:
    said(store, *reconnects(2))
    at = T0 + 1_000
    limits = BacklogLimits(max_dead_letters=1, dead_letter_window_ms=20_000)
    with (
        receiving(lambda _, _n: Answer(404)) as receiver,
        Journal.open(store) as journal,
        notifier_running(journal, [webhook(receiver)], at),
    ):
        wait_for("two dead letters in the status", lambda: dead_letters_told(journal) == 2)
        within, past = health_at(journal, limits, at + 20_000, at + 20_001)
        tolerated = health_at(journal, replace(limits, max_dead_letters=2), at)[0]
    assert within.status_code == 503
    assert within.json()["reasons"] == [
        "notifier.default dead-lettered 2 notification(s) in the last 20000 ms that nobody "
        "acknowledged; the limit is 1"
    ]
    (loop,) = within.json()["loops"]
    assert (loop["waiting"], loop["dead_lettered_at"]) == (0, [at, at])
    assert (past.status_code, past.json()["reasons"]) == (200, [])
    assert tolerated.status_code == 200


def test_health_is_503_while_a_notifier_owes_a_notification_older_than_its_limit(
    store: str,
) -> None:
    said(store, *reconnects(1))  # emitted at T0
    slow = Retries(max_attempts=5, backoff_s=60, max_backoff_s=60)
    limits = BacklogLimits(max_undelivered_ms=30_000)
    with (
        receiving(lambda _, _n: Answer(503)) as receiver,
        Journal.open(store) as journal,
        notifier_running(journal, [webhook(receiver, retries=slow)], T0 + 1_000),
    ):
        wait_for("the first try", lambda: len(receiver.on("/hook")) == 1)
        wait_for("the backlog in the status", lambda: waiting_told(journal) == 1)
        young, old = health_at(journal, limits, T0 + 30_000, T0 + 30_001)
    assert (young.status_code, young.json()["reasons"]) == (200, [])
    assert old.status_code == 503
    assert old.json()["reasons"] == [
        "notifier.default has 1 notification(s) undelivered, the oldest emitted 30001 ms ago; "
        "the limit is 30000 ms"
    ]
    assert old.json()["loops"][0]["oldest_waiting_at"] == T0


def test_acknowledged_dead_letters_no_longer_make_health_503(store: str) -> None:
    said(store, *reconnects(2))
    at = T0 + 1_000
    now = [at + 1_000]
    settings = ApiSettings(token=TOKEN)
    acknowledge = "/v1/notify/acknowledge"
    with (
        receiving(lambda _, _n: Answer(404)) as receiver,
        Journal.open(store) as journal,
        notifier_running(journal, [webhook(receiver)], at),
    ):
        wait_for("two dead letters in the status", lambda: dead_letters_told(journal) == 2)
        with running_server(journal, settings, lambda: now[0]) as url:
            before = httpx.get(f"{url}/health", timeout=10)
            anonymous = httpx.post(f"{url}{acknowledge}", params={"operator": "ops"}, timeout=10)
            unknown = httpx.post(
                f"{url}{acknowledge}",
                params={"notifier": "other", "operator": "ops"},
                headers=AUTH,
                timeout=10,
            )
            acknowledged = httpx.post(
                f"{url}{acknowledge}",
                params={"operator": "ops", "reason": "the bot was redeployed"},
                headers=AUTH,
                timeout=10,
            )
            after = httpx.get(f"{url}/health", timeout=10)
    assert before.status_code == 503
    assert (anonymous.status_code, unknown.status_code) == (401, 404)
    seen = {"at": at + 1_000, "operator": "ops", "reason": "the bot was redeployed"}
    assert acknowledged.json() == {"notifier": "default", **seen, "newly_acknowledged": 2}
    assert (after.status_code, after.json()["reasons"]) == (200, [])
    (loop,) = after.json()["loops"]
    assert (loop["dead_lettered_at"], loop["acknowledged"]) == ([at, at], seen)


def test_a_dead_letter_after_the_acknowledgement_counts_again() -> None:
    status = LoopStatus(
        "notifier.default",
        beat_at=300,
        waiting=0,
        dead_lettered_at=(100, 200, 300),
        acknowledged=Acknowledgement(at=200, operator="ops"),
    )
    assert status.backlog_problems(300, BacklogLimits(max_dead_letters=0)) == [
        "notifier.default dead-lettered 1 notification(s) in the last 3600000 ms that nobody "
        "acknowledged; the limit is 0"
    ]


def test_notify_ack_acknowledges_from_the_command_line(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    said(store, *reconnects(1))
    assert main(["--store", store, "notify", "ack", "--operator", "ops"]) == 2
    assert "no notifier named 'default' has run" in capsys.readouterr().err
    with (
        receiving(lambda _, _n: Answer(404)) as receiver,
        Journal.open(store) as journal,
        notifier_running(journal, [webhook(receiver)], T0 + 1_000),
    ):
        wait_for("the dead letter in the status", lambda: dead_letters_told(journal) == 1)
        argv = ["--store", store, "notify", "ack", "--operator", "ops", "--json"]
        assert main(argv) == 0
        told = orjson.loads(capsys.readouterr().out)
        assert main(argv) == 0
        again = orjson.loads(capsys.readouterr().out)
        status = loop_status(journal, "notifier.default")
    assert (told["operator"], told["newly_acknowledged"], again["newly_acknowledged"]) == (
        "ops",
        1,
        0,
    )
    assert status is not None and status.acknowledged is not None
    assert status.acknowledged.at == again["at"]


def dead_letters_told(journal: Journal) -> int:
    status = loop_status(journal, "notifier.default")
    return 0 if status is None else len(status.dead_lettered_at)


def waiting_told(journal: Journal) -> int | None:
    status = loop_status(journal, "notifier.default")
    return None if status is None else status.waiting


def test_serve_refuses_a_dead_letter_limit_its_status_could_not_show(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli("--store", store, "serve", "--max-dead-letters", "100", capsys=capsys)
    assert code == 2 and "--max-dead-letters" in err and "0 to 99" in err


def test_a_status_written_before_notifiers_told_their_backlog_still_reads(store: str) -> None:
    before = {
        "name": "notifier.default", "last_success_at": T0, "last_failure_at": None,
        "last_failure": "", "failures_in_row": 0, "stopped_at": None, "beat_at": T0,
    }  # fmt: skip
    with Journal.open(store) as journal:
        journal.save_snapshot("loop.notifier.default", 0, orjson.dumps(before))
        status = loop_status(journal, "notifier.default")
    assert status == LoopStatus("notifier.default", last_success_at=T0, beat_at=T0)
    assert status.backlog_problems(T0, BacklogLimits()) == []
