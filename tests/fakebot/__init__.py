"""A fake Telegram Bot API served over real HTTP on 127.0.0.1, for end-to-end tests.

It serves what the bot calls (getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
sendMessage, sendDocument, sendPhoto, editMessageText, answerCallbackQuery, setMyCommands,
setChatMenuButton); any other method answers 404 like Telegram. Tests act as users, read what the
bot did and inject faults::

    async with FakeBotApi() as api:
        bot = Bot("123:ABC", base_url=api.base_url, base_file_url=api.base_file_url)
        user = FakeUser(1001, "张三")
        mark = api.mark()
        api.send_text(user, "/start")
        [reply] = await api.wait_for_reply(user.id, since=mark)
        api.inject("sendMessage", "429", retry_after=1)
        api.enforce_limits(global_per_second=30, per_chat_per_second=1)  # 429s like Telegram
        assert api.rate_limited == 0  # how many sends the limits refused
        prompt = api.last_message_to(user.id)  # as recorded, with its reply_markup
        api.send_text(user, "answer", reply_to=prompt)
        xlsx = api.document_bytes(api.last_message_to(user.id))  # after a sendDocument
        png = api.photo_bytes(api.last_message_to(user.id))  # after a sendPhoto

Once the bot calls setWebhook (http:// is accepted on loopback hosts), what users do is POSTed
to the webhook instead of waiting for getUpdates, retried every ``webhook_retry_delay``
seconds until it answers 2xx::

        api.webhook_retry_delay = 0.05
        api.send_text(user, "hi")
        state = await api.wait_webhook_idle()  # nothing queued or in flight any more
        [delivery] = api.webhook_deliveries()  # update_id, attempts, status, history
        api.webhook_info()  # what getWebhookInfo answers

All state lives in the event loop that runs the server: call the helpers from that loop.
From another process, run ``python -m tests.fakebot --port N`` and use the ``/_control/``
routes (see ``control.py``).

Modules: ``server`` (FakeBotApi, HTTP, call log, waiting), ``users`` (FakeUser, user
actions), ``updates`` (update queue, getUpdates), ``methods`` (the other Bot API methods),
``chats`` (stored chats, messages, documents and photos), ``faults`` (fault injection, rate limits),
``webhook`` (the webhook methods and delivery), ``control`` (the control routes), ``common``
(errors, uploaded files and helpers).
"""

from .common import ApiError, UploadedFile
from .faults import FAULTS, Fault
from .server import Call, FakeBotApi
from .users import FakeUser, command_entities
from .webhook import WebhookDelivery

__all__ = [
    "FAULTS",
    "ApiError",
    "Call",
    "FakeBotApi",
    "FakeUser",
    "Fault",
    "UploadedFile",
    "WebhookDelivery",
    "command_entities",
]
