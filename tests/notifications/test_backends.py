"""The GOV.UK Notify email backend against a local server speaking Notify's API."""

import pytest
from django.core.mail import send_mail

from tests.fakes.notify import API_KEY, TEMPLATE_ID, FakeNotify


@pytest.fixture
def notify_server(settings):
    with FakeNotify() as fake:
        settings.EMAIL_BACKEND = "engagement.notifications.backends.NotifyEmailBackend"
        settings.NOTIFY_API_KEY = API_KEY
        settings.NOTIFY_BASE_URL = fake.url
        settings.NOTIFY_EMAIL_TEMPLATE_ID = TEMPLATE_ID
        yield fake


def test_email_goes_through_notify_with_subject_and_body_as_personalisation(notify_server):
    sent = send_mail("Your code", "It is 123456", None, ["a@example.org", "b@example.org"])

    assert sent == 2
    assert notify_server.sent == [
        {
            "email_address": "a@example.org",
            "template_id": TEMPLATE_ID,
            "personalisation": {"subject": "Your code", "body": "It is 123456"},
        },
        {
            "email_address": "b@example.org",
            "template_id": TEMPLATE_ID,
            "personalisation": {"subject": "Your code", "body": "It is 123456"},
        },
    ]


def test_a_notify_failure_raises_so_the_task_can_retry(notify_server):
    from notifications_python_client.errors import HTTPError

    notify_server.fail_next = 1
    with pytest.raises(HTTPError):
        send_mail("S", "B", None, ["a@example.org"])
    assert notify_server.sent == []


def test_missing_configuration_is_a_clear_error(settings):
    from django.core.exceptions import ImproperlyConfigured
    from django.core.mail import get_connection

    settings.EMAIL_BACKEND = "engagement.notifications.backends.NotifyEmailBackend"
    settings.NOTIFY_API_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="NOTIFY_API_KEY"):
        get_connection()


def test_text_messages_go_through_notify(notify_server, settings):
    from engagement.notifications.sms import SmsError, send_sms

    settings.SMS_BACKEND = "notify"
    settings.NOTIFY_SMS_TEMPLATE_ID = TEMPLATE_ID
    send_sms(to="+447700900982", body="Your code is 123456")
    assert notify_server.paths == ["/v2/notifications/sms"]
    assert notify_server.sent == [
        {
            "phone_number": "+447700900982",
            "template_id": TEMPLATE_ID,
            "personalisation": {"body": "Your code is 123456"},
        }
    ]
    notify_server.fail_next = 1
    with pytest.raises(SmsError):
        send_sms(to="+447700900982", body="again")


def test_smtp_emails_share_one_session_and_a_dropped_connection_is_opened_again(settings):
    from engagement.notifications.services import send_email
    from tests.fakes.smtp import FakeSMTP

    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
        for n in range(3):
            send_email(to=f"r{n}@example.org", subject="Hello", body=f"Message {n}")
        assert server.sessions == 1
        assert [to for to, _ in server.messages] == [[f"r{n}@example.org"] for n in range(3)]

        server.drop_all()  # as a server does to a client idle past its timeout
        send_email(to="r3@example.org", subject="Hello", body="Message 3")

        assert server.sessions == 2
        assert [to for to, _ in server.messages][-1] == ["r3@example.org"]
        assert b"Message 3" in server.messages[-1][1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_email(to="after@example.org", subject="Hello", body="Back to the test backend")
