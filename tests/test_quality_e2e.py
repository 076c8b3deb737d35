"""End-to-end: after the nightly quality check a supervisor's /review shows 质量提示 markers."""

from __future__ import annotations

from datetime import date

from tests.test_e2e_review import SUP, TARGET, open_office, review_text


async def test_review_shows_quality_markers_after_the_check(bot):
    await open_office(bot)  # 张三: 1.到城关镇调研乡村振兴项目推进情况 2.起草月度工作总结
    [reply] = await bot.say(TARGET, "开会")
    assert reply.startswith("已记录 11月20日"), reply
    today = date(2026, 11, 20)

    # Not checked yet: no marker.
    lines = [
        "— 11-20 周五",
        "1. 到城关镇调研乡村振兴项目推进情况（合作者：城关镇）",
        "2. 起草月度工作总结",
        "3. 开会",
    ]
    assert await bot.say(SUP, "/review 张三") == [review_text("张三", "A002", lines)]

    assert await bot.services.quality.check(today, today) == 5  # the office's three and this
    lines[3] = "3. 开会〔琐碎〕"
    assert await bot.say(SUP, "/review 张三") == [review_text("张三", "A002", lines)]
