"""FormService without Telegram: the monthly summary (月小结) and the 5+2 form dialogues, their
drafts and suggestions from the cadre's own log, the dialogue row that survives restarts and
expires, /cancel, stale buttons and refused texts, on SQLite and PostgreSQL.

The clock stands at Friday 2026-11-20 10:00 in Shanghai (2026Q4).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from scoring.summary import ThemeExtractor
from services import zh
from services.entries import EntrySource
from services.errors import NotFound, UsageError
from services.forms import (
    CONVERSATION_IDLE,
    ITEM_LIMIT,
    SELF_LIMIT,
    SUMMARY_LIMIT,
    Cancelled,
    FiveTwoStep,
    FormService,
    Step,
    SummaryStep,
)
from services.outbox import Confirm
from storage.models import (
    Absence,
    AuditLog,
    Comment,
    Conversation,
    FiveTwoForm,
    InboxUpdate,
    LogEntry,
    MonthlySummary,
    OutboxMessage,
)
from tests.services_fixtures import SHANGHAI, Env, at, processing

pytest_plugins = ("tests.services_fixtures",)

CHAT = 7001
# 张三's November: real work, routine, and one item withdrawn later.
ZHANG_LOG = [
    (2, "到城关镇调研乡村振兴项目推进情况"),
    (3, "与县财政局核对项目资金预算"),
    (4, "接待来访群众3人次，登记信访事项2件"),
    (5, "开展安全生产大检查，检查企业5家"),
    (6, "召开招商引资项目推进会，对接客商3批"),
    (9, "审核城关镇人居环境整治项目资金拨付材料"),
    (10, "赴省城招商，洽谈新能源电池项目"),
    (11, "督办信访积案3件，约谈信访人2名"),
    (12, "到开发区检查安全生产，整改隐患4处"),
    (13, "值班"),
    (16, "值班"),
    (17, "与县自然资源局对接项目用地问题"),
    (18, "学习文件"),
]
WITHDRAWN = "陪同省检查组暗访城关镇污水处理厂"
OTHERS = "李四独有的工作：走访光伏产业园区企业12家"


@pytest.fixture(scope="module")
def themes() -> ThemeExtractor:
    extractor = ThemeExtractor()
    extractor.warm_up()
    return extractor


@pytest.fixture
def forms(env: Env, themes: ThemeExtractor) -> FormService:
    return FormService(env.wiring.uow, env.clock, env.entries.policy, themes)


_message_ids = iter(range(1, 1_000_000))


async def log(env: Env, person_id: int, day: int, text: str, month: int = 11) -> None:
    sent = datetime(2026, month, day, 10, tzinfo=SHANGHAI)
    source = EntrySource.telegram(CHAT + person_id, next(_message_ids), sent)
    await env.entries.record(person_id, text, source)


async def zhang_and_li(env: Env) -> tuple[int, int]:
    """张三 with his November log (one item withdrawn), 李四 with one item of his own."""
    zhang = await env.person("c001", "张三")
    li = await env.person("c002", "李四")
    for day, text in ZHANG_LOG:
        await log(env, zhang, day, text)
    await log(env, zhang, 19, WITHDRAWN)
    withdrawn = await env.one(LogEntry, LogEntry.text == WITHDRAWN)
    await env.entries.withdraw(zhang, withdrawn.id)
    await log(env, li, 19, OTHERS)
    return zhang, li


async def conversation(env: Env, person_id: int) -> tuple[str, dict] | None:
    async with env.sessions() as db:
        row = await db.get(Conversation, person_id)
    return (row.kind, json.loads(row.state)) if row is not None else None


# -- the draft ---------------------------------------------------------------------------------


async def test_draft_comes_from_the_cadres_own_live_entries_and_is_stored_once(env, forms):
    zhang, li = await zhang_and_li(env)
    # The 19th, whose only item was withdrawn, was a trip.
    trip = {"start_date": date(2026, 11, 19), "end_date": date(2026, 11, 19), "reason": "出差"}
    await env.insert_rows(
        Absence, [{"person_id": zhang, "created_at": at(20), "withdrawn": False, **trip}]
    )
    view = await forms.summary_draft(zhang)
    assert view.month.label == "2026-11" and view.text is None and view.confirmed_at is None
    lines = view.draft.split("\n")
    assert lines[0] == "2026年11月工作小结"
    assert lines[1] == "本月记工作日志13天、13条（日常工作13条，其他工作0条，八小时外0条）。"
    assert lines[2] == "应记13天，已记13天，请假/出差1天。"  # today is not due yet
    assert lines[3].startswith("主要工作：") and "安全生产" in lines[3]
    assert lines[4].startswith("主要合作或服务对象：城关镇（2次）")
    assert "重点工作：" in lines and lines[-2:] == [zh.DRAFT_SHORTCOMINGS, zh.DRAFT_NEXT]
    assert WITHDRAWN not in view.draft and "陪同省检查组" not in view.draft
    assert "李四" not in view.draft and "光伏" not in view.draft
    assert "1. 值班" not in view.draft and "学习文件" not in view.draft

    # Asking again changes nothing; one row per person and month.
    again = await forms.summary_draft(zhang)
    assert again.draft == view.draft
    [row] = await env.rows(MonthlySummary)
    assert (row.person_id, row.month, row.draft) == (zhang, "2026-11", view.draft)
    # 李四's draft knows only his item.
    li_view = await forms.summary_draft(li)
    assert "本月记工作日志1天、1条" in li_view.draft and "光伏产业" in li_view.draft
    assert "城关镇" not in li_view.draft


async def test_draft_follows_the_log_until_confirmed_then_stays(env, forms):
    zhang, _ = await zhang_and_li(env)
    first = await forms.summary_draft(zhang)
    await log(env, zhang, 20, "陪同市领导调研园区企业用工情况")
    second = await forms.summary_draft(zhang)
    assert second.draft != first.draft and "14天、14条" in second.draft
    await forms.start_summary(zhang)
    await forms.confirm_summary(zhang, "2026-11")
    await log(env, zhang, 20, "起草全县乡村振兴工作汇报材料")
    third = await forms.summary_draft(zhang)
    assert third.draft == second.draft and third.text == second.draft
    assert third.confirmed_at == env.clock.now()


async def test_draft_for_runs_inside_the_callers_unit_of_work_without_committing(env, forms):
    zhang, li = await zhang_and_li(env)
    november = (await forms.summary_draft(li)).month
    async with env.wiring.uow() as uow:
        view = await forms.draft_for(uow, zhang, november)
        assert "13天、13条" in view.draft
    assert await env.count(MonthlySummary, MonthlySummary.person_id == zhang) == 0
    async with env.wiring.uow() as uow:
        for person in (zhang, li):
            await forms.draft_for(uow, person, november)
        await uow.commit()
    assert await env.count(MonthlySummary) == 2


# -- /summary ----------------------------------------------------------------------------------


async def test_summary_dialogue_edit_confirm_and_replace_with_history(env, forms):
    zhang, _ = await zhang_and_li(env)
    step = await forms.start_summary(zhang)
    draft = (await forms.summary_draft(zhang)).draft
    assert (step.month.label, step.shown, step.text, step.confirmed_at) == (
        "2026-11",
        draft,
        None,
        None,
    )
    assert await conversation(env, zhang) == (
        "summary",
        {"month": "2026-11", "shown": draft, "text": None, "messages": []},
    )

    # A message is the edited text, kept (with its line breaks) until 确认.
    edited = "本月主要抓了招商引资和安全生产。\n  下月继续推进项目建设。  "
    taken = await forms.take_text(zhang, edited, message_id=41)
    assert isinstance(taken, SummaryStep)
    assert taken.text == "本月主要抓了招商引资和安全生产。\n下月继续推进项目建设。"
    assert (await env.one(MonthlySummary)).text is None
    assert await forms.took_message(zhang, 41) == "summary"
    assert await forms.took_message(zhang, 42) is None

    done = await forms.confirm_summary(zhang, "2026-11")
    assert done.done and not done.replaced and done.current == taken.text
    row = await env.one(MonthlySummary)
    assert (row.text, row.confirmed_at, row.draft) == (taken.text, env.clock.now(), draft)
    assert await conversation(env, zhang) is None
    assert await forms.take_text(zhang, "又一条日志") is None

    # Later: /summary shows what was confirmed; confirming it unchanged leaves no trail.
    env.clock.advance(hours=1)
    again = await forms.start_summary(zhang)
    assert again.shown == taken.text and again.confirmed_at == row.confirmed_at
    await forms.confirm_summary(zhang, "2026-11")
    assert await env.audit("summary_replaced") == []
    # A new text replaces it; the old one is kept in the audit log.
    await forms.start_summary(zhang)
    await forms.take_text(zhang, "改过的小结")
    replaced = await forms.confirm_summary(zhang, "2026-11")
    assert replaced.replaced
    row = await env.one(MonthlySummary)
    assert (row.text, row.confirmed_at) == ("改过的小结", env.clock.now())
    [trail] = await env.audit("summary_replaced")
    assert (trail.actor_person_id, trail.subject_person_id, trail.command) == (
        zhang,
        zhang,
        "summary",
    )
    assert json.loads(trail.detail) == {
        "month": "2026-11",
        "before": taken.text,
        "after": "改过的小结",
    }


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("。。。！！", zh.SUMMARY_EMPTY),
        ("\u200b \u200b", zh.SUMMARY_EMPTY),
        ("长" * (SUMMARY_LIMIT + 1), zh.SUMMARY_TOO_LONG.format(limit=SUMMARY_LIMIT)),
    ],
)
async def test_summary_refuses_empty_and_too_long_texts_and_stores_nothing(env, forms, text, reply):
    zhang, _ = await zhang_and_li(env)
    await forms.start_summary(zhang)
    before = await conversation(env, zhang)
    with pytest.raises(UsageError) as refused:
        await forms.take_text(zhang, text, message_id=5)
    assert refused.value.reply == reply + zh.FORM_IN_PROGRESS.format(form="工作小结")
    assert await conversation(env, zhang) == before
    # The longest text is fine.
    step = await forms.take_text(zhang, "长" * SUMMARY_LIMIT)
    assert isinstance(step, SummaryStep) and len(step.current) == SUMMARY_LIMIT


async def test_summary_month_last_month_while_open_and_unconfirmed(env, forms):
    zhang, li = await zhang_and_li(env)
    env.clock.set(datetime(2026, 12, 2, 10, tzinfo=SHANGHAI))
    # November is still open and not confirmed: it comes first.
    assert (await forms.start_summary(zhang)).month.label == "2026-11"
    # Without November entries, December.
    assert (await forms.start_summary(await env.person("c003", "王五"))).month.label == "2026-12"
    await forms.confirm_summary(zhang, "2026-11")
    assert (await forms.start_summary(zhang)).month.label == "2026-12"
    # Named months: this one, the open last one; nothing else.
    assert (await forms.start_summary(li, "上月")).month.label == "2026-11"
    assert (await forms.start_summary(li, "2026-12")).month.label == "2026-12"
    for text in ("2026-10", "2027-01", "2026Q4", "乱写"):
        with pytest.raises(UsageError) as refused:
            await forms.start_summary(li, text)
        assert refused.value.reply == zh.SUMMARY_WHICH.format(
            text=text, open="2026年12月、2026年11月"
        )
    # Once the grace days are over, November is closed, also for the job's button.
    env.clock.set(datetime(2026, 12, 7, 10, tzinfo=SHANGHAI))
    with pytest.raises(UsageError):
        await forms.start_summary(li, "2026-11")
    with pytest.raises(NotFound) as closed:
        await forms.open_summary(li, "2026-11")
    assert closed.value.reply == zh.SUMMARY_CLOSED
    assert (await forms.open_summary(li, "2026-12")).month.label == "2026-12"


async def test_a_dialogue_expires_then_resumes_when_started_again(env, forms):
    zhang, _ = await zhang_and_li(env)
    await forms.start_summary(zhang)
    await forms.take_text(zhang, "先写一半")
    env.clock.advance(seconds=CONVERSATION_IDLE.total_seconds() - 1)
    assert await forms.active(zhang) == "summary"
    env.clock.advance(seconds=1)
    # Expired: a message is a log message again, nothing changes in the dialogue.
    assert await forms.active(zhang) is None
    assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    with pytest.raises(NotFound):
        await forms.confirm_summary(zhang, "2026-11")
    step = await forms.start_summary(zhang)
    assert step.resumed and step.text == "先写一半"
    assert (await forms.confirm_summary(zhang, "2026-11")).current == "先写一半"


async def test_buttons_of_another_month_or_of_no_dialogue_are_stale(env, forms):
    zhang, li = await zhang_and_li(env)
    with pytest.raises(NotFound) as stale:
        await forms.confirm_summary(zhang, "2026-11")
    assert stale.value.reply == zh.STALE_BUTTON
    await forms.start_summary(zhang)
    for month in ("2026-10", "2026-13", "x"):
        with pytest.raises(NotFound):
            await forms.confirm_summary(zhang, month)
    # 李四 pressing a button with 张三's month: he has no dialogue, nothing of 张三 moves.
    with pytest.raises(NotFound):
        await forms.confirm_summary(li, "2026-11")
    assert (await env.one(MonthlySummary)).confirmed_at is None
    with pytest.raises(NotFound):
        await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, 1)


# -- /fivetwo ----------------------------------------------------------------------------------


async def negative_comment(env: Env, subject: int, author: int, text: str, day: int) -> None:
    async with env.sessions() as db:
        db.add(
            Comment(
                author_id=author, subject_id=subject, positive=False, text=text, created_at=at(day)
            )
        )
        await db.commit()


async def test_fivetwo_from_suggestions_to_the_submitted_form(env, forms):
    zhang, li = await zhang_and_li(env)
    boss = await env.person("s001", "吴科长")
    await negative_comment(env, zhang, boss, "材料报送不及时", 10)
    await negative_comment(env, zhang, boss, "信访件办理超期", 12)
    await negative_comment(env, li, boss, "李四的问题", 12)

    step = await forms.start_fivetwo(zhang)
    assert (step.quarter.label, step.step, step.best, step.weaker) == ("2026Q4", "best", (), ())
    suggested = [i.text for i in step.items if i.origin == "log"]
    concerns = [i.text for i in step.items if i.origin == "concern"]
    assert len(suggested) == 10  # the most offered, all from his own log
    own = {text for _, text in ZHANG_LOG}
    assert set(suggested) <= own - {"值班", "学习文件"}
    assert concerns == ["信访件办理超期", "材料报送不及时"]  # newest first, his only
    assert [i.number for i in step.items] == list(range(1, len(step.items) + 1))
    assert [i.origin for i in step.shown()] == ["log"] * len(suggested)

    # Four by button, one typed: an own item, chosen at once.
    for number in (3, 1, 2):
        step = await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, number)
    step = await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, 4)
    step = await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, 4)  # taken off again
    assert step.best == (3, 1, 2)
    with pytest.raises(UsageError) as short:
        await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    assert short.value.reply == zh.FIVETWO_NEED_BEST.format(count=3)
    step = await forms.take_text(zhang, "牵头完成县重点项目年度考核", message_id=7)
    assert isinstance(step, FiveTwoStep) and step.added == 1
    typed = step.items[-1]
    assert (typed.text, typed.origin, step.best[-1]) == (
        "牵头完成县重点项目年度考核",
        "own",
        typed.number,
    )
    step = await forms.take_text(zhang, "5")  # a number picks
    assert step.best == (3, 1, 2, typed.number, 5)
    with pytest.raises(UsageError) as full:
        await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, 6)
    assert full.value.reply == zh.FIVETWO_BEST_FULL.format(count=5)
    with pytest.raises(UsageError):
        await forms.take_text(zhang, "再补一项工作")

    # Weaker: everything not among the best, the concerns included.
    step = await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    assert step.step == Step.WEAKER
    assert {i.number for i in step.shown()} == {i.number for i in step.items} - set(step.best)
    with pytest.raises(NotFound):
        await forms.fivetwo_pick(zhang, "2026Q4", Step.WEAKER, 3)  # one of the best
    with pytest.raises(NotFound):
        await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, 6)  # the step moved on
    concern = next(i for i in step.items if i.origin == "concern")
    step = await forms.fivetwo_pick(zhang, "2026Q4", Step.WEAKER, concern.number)
    step = await forms.take_text(zhang, "档案整理进度偏慢")
    assert len(step.weaker) == 2
    step = await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    assert step.step == Step.SELF
    with pytest.raises(NotFound):
        await forms.submit_fivetwo(zhang, "2026Q4")  # no 自评 yet
    step = await forms.take_text(zhang, "本季度完成了主要任务。\n不足是材料报送不及时。")
    assert step.self_assessment == "本季度完成了主要任务。\n不足是材料报送不及时。"
    step = await forms.take_text(zhang, "本季度完成了主要任务，作风还需更扎实。")

    done = await forms.submit_fivetwo(zhang, "2026Q4")
    assert done.step == Step.DONE and done.submitted_at == env.clock.now() and not done.replaced
    form = await env.one(FiveTwoForm)
    best = [step.item(n).text for n in (3, 1, 2)] + [
        "牵头完成县重点项目年度考核",
        step.item(5).text,
    ]
    assert (form.person_id, form.quarter) == (zhang, "2026Q4")
    assert json.loads(form.best) == best
    assert json.loads(form.weaker) == [concern.text, "档案整理进度偏慢"]
    assert form.self_assessment == "本季度完成了主要任务，作风还需更扎实。"
    assert form.submitted_at == env.clock.now()
    assert await conversation(env, zhang) is None
    assert await env.audit("fivetwo_replaced") == []

    # /fivetwo again: the submitted form comes back chosen, to be revised; the trail keeps it.
    env.clock.advance(hours=2)
    again = await forms.start_fivetwo(zhang)
    assert [again.item(n).text for n in again.best] == best
    assert [again.item(n).text for n in again.weaker] == [concern.text, "档案整理进度偏慢"]
    assert again.self_assessment == form.self_assessment
    assert again.submitted_at == form.submitted_at
    await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    await forms.take_text(zhang, "改过的自评")
    revised = await forms.submit_fivetwo(zhang, "2026Q4")
    assert revised.replaced
    [trail] = await env.audit("fivetwo_replaced")
    detail = json.loads(trail.detail)
    assert (
        detail["before"]["self"] == form.self_assessment and detail["after"]["self"] == "改过的自评"
    )
    assert (await env.one(FiveTwoForm)).self_assessment == "改过的自评"


async def test_fivetwo_back_and_forth_and_refused_texts(env, forms):
    zhang, _ = await zhang_and_li(env)
    step = await forms.start_fivetwo(zhang)
    numbers = [i.number for i in step.shown()][:5]
    step = await forms.take_text(zhang, " ".join(map(str, numbers)))
    assert step.best == tuple(numbers)
    with pytest.raises(NotFound):
        await forms.fivetwo_move(zhang, "2026Q4", forward=False)  # no step before the first
    await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    step = await forms.take_text(zhang, "1.协调不力\n2.进度偏慢")  # two lines, two items
    assert step.added == 2 and len(step.weaker) == 2
    step = await forms.fivetwo_move(zhang, "2026Q4", forward=False)
    assert step.step == Step.BEST and step.best == tuple(numbers)
    # Taking an item off the best and back on keeps the weaker list as it was.
    await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, numbers[0])
    await forms.fivetwo_pick(zhang, "2026Q4", Step.BEST, numbers[0])
    step = await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    assert step.step == Step.WEAKER and len(step.weaker) == 2
    await forms.fivetwo_move(zhang, "2026Q4", forward=True)
    with pytest.raises(NotFound):
        await forms.fivetwo_move(zhang, "2026Q4", forward=True)  # no step after the 自评

    progress = await conversation(env, zhang)
    for text, reply in [
        ("。。。", zh.FIVETWO_SELF_EMPTY),
        ("评" * (SELF_LIMIT + 1), zh.FIVETWO_SELF_TOO_LONG.format(limit=SELF_LIMIT)),
    ]:
        with pytest.raises(UsageError) as refused:
            await forms.take_text(zhang, text)
        assert refused.value.reply == reply + zh.FORM_IN_PROGRESS.format(form="5+2实绩登记表")
    assert await conversation(env, zhang) == progress

    # Back in the list steps: empty, too long, unknown numbers.
    await forms.fivetwo_move(zhang, "2026Q4", forward=False)
    for text, reply in [
        ("！！", zh.FIVETWO_ITEM_EMPTY),
        ("长" * (ITEM_LIMIT + 1), zh.FIVETWO_ITEM_TOO_LONG.format(limit=ITEM_LIMIT)),
        ("99", zh.FIVETWO_BAD_NUMBER.format(text="99")),
        (str(numbers[0]), zh.FIVETWO_BAD_NUMBER.format(text=str(numbers[0]))),  # a best one
    ]:
        with pytest.raises(UsageError) as refused:
            await forms.take_text(zhang, text)
        assert refused.value.reply.startswith(reply)
    for number in (0, 99):
        with pytest.raises(NotFound):
            await forms.fivetwo_pick(zhang, "2026Q4", Step.WEAKER, number)
    with pytest.raises(NotFound):
        await forms.fivetwo_pick(zhang, "2026Q3", Step.WEAKER, 1)  # another quarter
    assert await env.count(FiveTwoForm) == 0


async def test_fivetwo_with_an_empty_log_is_typed_by_hand(env, forms):
    new = await env.person("c005", "新人")
    step = await forms.start_fivetwo(new)
    assert step.items == () and step.shown() == ()
    step = await forms.take_text(new, "1.熟悉业务\n2.参与项目申报\n3.整理档案\n4.值班\n5.学习")
    assert len(step.best) == 5
    with pytest.raises(UsageError) as full:
        await forms.take_text(new, "第六项")
    assert full.value.reply.startswith(zh.FIVETWO_BEST_FULL.format(count=5))
    assert all(i.origin == "own" for i in step.items)


async def test_cancel_ends_the_dialogue_and_keeps_what_was_submitted(env, forms):
    zhang, _ = await zhang_and_li(env)
    assert await forms.cancel(zhang) == Cancelled(None)
    await forms.start_summary(zhang)
    await forms.take_text(zhang, "写了一半的小结")
    assert await forms.cancel(zhang) == Cancelled("summary")
    assert await conversation(env, zhang) is None
    assert (await env.one(MonthlySummary)).text is None
    assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    # /fivetwo while a summary is open ends the summary, and says so.
    await forms.start_summary(zhang)
    step = await forms.start_fivetwo(zhang)
    assert step.ended == "summary"
    assert (await conversation(env, zhang))[0] == "fivetwo"
    assert await forms.cancel(zhang) == Cancelled("fivetwo")


async def test_replies_are_queued_with_the_change_and_a_log_message_commits_nothing(env, forms):
    zhang, _ = await zhang_and_li(env)
    inbox = await env.inbox_row()
    confirm: Confirm[SummaryStep] = Confirm(CHAT, lambda s: (f"小结 {s.month.label}", None))
    with processing(inbox):
        await forms.start_summary(zhang, confirm=confirm)
    assert confirm.queued
    [reply] = await env.rows(OutboxMessage)
    assert (reply.key, reply.chat_id, reply.text) == (f"reply:{inbox}", CHAT, "小结 2026-11")
    assert (await env.one(InboxUpdate, InboxUpdate.id == inbox)).status == "done"
    await forms.cancel(zhang)
    # No dialogue: the message is the log's; the update stays pending for the log to store.
    inbox = await env.inbox_row()
    with processing(inbox):
        assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    assert (await env.one(InboxUpdate, InboxUpdate.id == inbox)).status == "pending"


async def test_an_unreadable_dialogue_is_ignored(env, forms):
    zhang, _ = await zhang_and_li(env)
    await forms.start_fivetwo(zhang)
    async with env.sessions() as db:
        row = await db.get(Conversation, zhang)
        row.state = '{"quarter": "2026Q4", "step": "best", "items": [["x", "bogus"]]}'
        await db.commit()
    assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    step = await forms.start_fivetwo(zhang)
    assert step.step == Step.BEST and not step.resumed
    assert await env.count(AuditLog, AuditLog.action == "fivetwo_replaced") == 0


async def test_typed_words_do_what_the_buttons_do(env, forms):
    zhang, _ = await zhang_and_li(env)
    # 确认 typed in the summary confirms what is shown; it never becomes the summary.
    shown = (await forms.start_summary(zhang)).shown
    done = await forms.take_text(zhang, "确认。")
    assert isinstance(done, SummaryStep) and done.done
    assert (await env.one(MonthlySummary)).text == shown
    # 取消 / 退出 leave the form.
    await forms.start_summary(zhang)
    assert await forms.take_text(zhang, "取消") == Cancelled("summary")
    assert await forms.active(zhang) is None

    step = await forms.start_fivetwo(zhang)
    in_form = zh.FORM_IN_PROGRESS.format(form="5+2实绩登记表")
    for word, reply in [
        ("上一步", zh.FIVETWO_FIRST_STEP),
        ("下一步", zh.FIVETWO_NEED_BEST.format(count=0)),
        ("OK", zh.FIVETWO_NEED_BEST.format(count=0)),
    ]:
        with pytest.raises(UsageError) as refused:
            await forms.take_text(zhang, word)
        assert refused.value.reply == reply + in_form
    await forms.take_text(zhang, " ".join(str(i.number) for i in step.shown()[:5]))
    assert (await forms.take_text(zhang, "下一步")).step == Step.WEAKER
    assert (await forms.take_text(zhang, "上一步")).step == Step.BEST
    await forms.take_text(zhang, "好")
    await forms.take_text(zhang, "协调不力\n进度偏慢")
    assert (await forms.take_text(zhang, "下一步")).step == Step.SELF
    with pytest.raises(UsageError) as refused:
        await forms.take_text(zhang, "提交")
    assert refused.value.reply == zh.FIVETWO_SELF_EMPTY + in_form
    await forms.take_text(zhang, "总体完成任务。")
    done = await forms.take_text(zhang, "提交")
    assert isinstance(done, FiveTwoStep) and done.step == Step.DONE
    assert (await env.one(FiveTwoForm)).self_assessment == "总体完成任务。"


async def test_a_log_message_outside_a_dialogue_reads_nothing_from_the_database(env, themes):
    """The log's hot path: who has a dialogue open is known in the process, read once."""
    zhang, li = await zhang_and_li(env)
    before = FormService(env.wiring.uow, env.clock, env.entries.policy, themes)
    await before.start_summary(zhang)
    # A restart: the new service learns the open dialogue from the table.
    forms = FormService(env.wiring.uow, env.clock, env.entries.policy, themes)
    with env.statements() as first:
        assert await forms.take_text(li, "与县财政局对接项目资金") is None
    assert len(first) == 1  # the one read of who has a dialogue
    with env.statements() as later:
        assert await forms.take_text(li, "与县财政局对接项目资金") is None
        assert await forms.took_message(li, 7) is None
    assert later == []
    step = await forms.take_text(zhang, "本月完成项目调度三次")
    assert isinstance(step, SummaryStep)
    await forms.cancel(zhang)
    assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    with env.statements() as after_cancel:  # the ended dialogue was dropped from the index
        assert await forms.take_text(zhang, "与县财政局对接项目资金") is None
    assert after_cancel == []
