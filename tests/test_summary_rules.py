"""scoring.summary: the monthly draft's figures and themes, the 5+2 suggestions, open periods.

Entries are the kind a county 发改委 cadre writes; themes come from the real jieba-backed
extractor (loaded once for the module), the figures from a stand-in that names no themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from scoring.completeness import Completeness
from scoring.summary import (
    THEME_STOP_WORDS,
    FiveTwoCandidates,
    Item,
    ThemeExtractor,
    fivetwo_candidates,
    monthly_draft,
    open_periods,
    substance,
)


@pytest.fixture(scope="module")
def themes() -> ThemeExtractor:
    extractor = ThemeExtractor()
    extractor.warm_up()
    return extractor


class NoThemes:
    """Themes that name nothing: the figures and picks without the tokenizer."""

    def themes(self, texts: Sequence[str], k: int) -> list[str]:
        return []


def nov(day: int) -> date:
    return date(2026, 11, day)


def item(day: int, text: str, collaborator: str | None = None, **fields: object) -> Item:
    return Item(nov(day), text, collaborator=collaborator, **fields)  # type: ignore[arg-type]


# A month of one cadre: projects, petitions, safety checks, and the routine around them.
MONTH = [
    item(2, "到城关镇调研乡村振兴项目推进情况", "城关镇"),
    item(2, "参加党组会议", "党组"),
    item(3, "与县财政局核对项目资金预算", "县财政局"),
    item(4, "接待来访群众3人次，登记信访事项2件", "来访群众"),
    item(5, "开展安全生产大检查，检查企业5家", "企业"),
    item(5, "值班", kind="after_hours"),
    item(6, "召开招商引资项目推进会，对接客商3批", "客商", project_id=7),
    item(9, "审核城关镇人居环境整治项目资金拨付材料", "城关镇", project_id=7),
    item(10, "赴省城招商，洽谈新能源电池项目", kind="other", project_id=9),
    item(11, "值班", kind="after_hours"),
    item(12, "督办信访积案3件，约谈信访人2名", "信访人", is_late=True),
    item(13, "到开发区检查安全生产，整改隐患4处", "开发区"),
    item(16, "与县自然资源局对接项目用地问题", "县自然资源局", project_id=9),
    item(17, "学习文件"),
    item(18, "起草全县乡村振兴工作汇报材料"),
]


# -- the monthly draft --------------------------------------------------------------------------


def test_draft_counts_kinds_days_partners_projects_and_passes_completeness():
    done = Completeness(expected=14, logged=13, excused=1, missing=(nov(19),))
    digest = monthly_draft(MONTH, NoThemes(), done)
    assert digest.entries == 15
    assert digest.days_logged == 13
    assert digest.kinds == (("regular", 12), ("other", 1), ("after_hours", 2))
    assert digest.late == 1
    # Most frequent first; equal counts in the order of the log.
    assert digest.collaborators == (
        ("城关镇", 2),
        ("党组", 1),
        ("县财政局", 1),
        ("来访群众", 1),
        ("企业", 1),
    )
    assert digest.projects == ((7, 2), (9, 2))
    assert digest.completeness is done
    assert digest.themes == ()


def test_draft_highlights_are_substantial_distinct_and_in_log_order():
    digest = monthly_draft(MONTH, NoThemes())
    assert len(digest.highlights) == 5
    # Never routine (值班 twice), never generic (学习文件, 参加党组会议).
    for routine in ("值班", "学习文件", "参加党组会议"):
        assert routine not in digest.highlights
    order = [i.text for i in MONTH]
    assert list(digest.highlights) == sorted(digest.highlights, key=order.index)


def test_an_empty_month_drafts_zeros():
    digest = monthly_draft([], NoThemes())
    assert digest.entries == digest.days_logged == digest.late == 0
    assert digest.kinds == (("regular", 0), ("other", 0), ("after_hours", 0))
    assert digest.themes == digest.collaborators == digest.highlights == digest.projects == ()


@pytest.mark.parametrize(
    ("texts", "present", "absent"),
    [
        # Domain phrases come out whole; generic work words never.
        (
            [i.text for i in MONTH],
            {"安全生产", "乡村振兴"},
            {"工作", "开展", "会议", "推进", "检查", "学习"},
        ),
        # What recurs through the month leads; "项目" is said the specific way, once.
        (
            [
                "召开招商引资项目推进会",
                "赴省城开展招商引资活动",
                "整理招商引资项目台账",
                "与县财政局核对项目资金",
                "审核项目资金拨付材料",
            ],
            {"招商引资", "项目资金"},
            {"项目", "财政局"},
        ),
        # A month of meetings and study only: nothing specific to name.
        (["参加会议", "开展学习", "进行工作部署", "召开会议"], set(), {"会议", "学习", "工作"}),
        (
            ["防汛抗旱值守，巡查堤坝3处", "防汛抗旱物资清点", "森林防火宣传进村"],
            {"防汛抗旱"},
            set(),
        ),
    ],
)
def test_themes_name_the_work_not_the_activity(themes, texts, present, absent):
    found = themes.themes(texts, 6)
    assert present <= set(found[: len(present)]), found
    assert not absent & set(found), found
    assert not set(found) & THEME_STOP_WORDS


def test_partners_are_not_themes(themes):
    digest = monthly_draft(MONTH, themes)
    assert digest.themes
    assert len(digest.themes) <= 6
    for partner, _ in digest.collaborators:
        assert not any(theme in partner for theme in digest.themes), digest.themes
    assert "城关镇" not in digest.themes and "财政局" not in digest.themes


def test_themes_of_nothing_are_empty(themes):
    assert themes.themes([], 5) == []
    assert themes.themes(["", "  "], 5) == []
    assert themes.themes(["招商引资"], 0) == []


# -- 5+2 suggestions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "substantial"),
    [
        (item(1, "开会"), False),
        (item(1, "参加党组会议", "党组"), False),
        (item(1, "学习文件"), False),
        (item(1, "整理档案"), False),
        (item(1, "审核招商引资合同"), True),
        (item(1, "走访开发区重点企业，了解用工需求", "开发区重点企业"), True),
    ],
)
def test_substance_is_zero_for_short_or_generic_entries(entry, substantial):
    assert (substance(entry) > 0) is substantial


def test_substance_rises_with_partner_project_and_figures():
    bare = item(1, "协调解决园区企业用电难题")
    assert substance(bare) < substance(item(1, bare.text, "园区企业"))
    assert substance(item(1, bare.text, "园区企业")) < substance(
        item(1, bare.text, "园区企业", project_id=3)
    )
    assert substance(bare) < substance(item(1, "协调解决园区企业用电难题2件"))


def test_fivetwo_best_skips_routine_repeats_and_near_duplicates(themes):
    quarter = [
        *MONTH,
        item(20, "调度重点项目建设进度，协调解决问题5个"),
        item(27, "调度重点项目建设进度，协调解决问题5个"),
        # The same work written twice with other words: only one of them.
        item(23, "审核城关镇人居环境整治项目资金拨付材料并签署意见", "城关镇"),
    ]
    candidates = fivetwo_candidates(quarter, 10, themes)
    assert len(candidates.best) == 10
    assert len(set(candidates.best)) == 10
    assert "调度重点项目建设进度，协调解决问题5个" not in candidates.best
    funds = [t for t in candidates.best if "人居环境整治" in t]
    assert len(funds) == 1
    assert "值班" not in candidates.best and "学习文件" not in candidates.best
    assert candidates.weaker == ()


def test_fivetwo_best_takes_one_per_theme_before_a_second(themes):
    quarter = [
        item(2, "开展安全生产大检查，检查企业5家，整改隐患12处", "企业"),
        item(3, "开展安全生产专项整治，督促整改重大隐患2处", "企业"),
        item(4, "到开发区检查安全生产，约谈企业负责人3名", "开发区"),
        item(5, "召开招商引资项目推进会，对接客商3批", "客商"),
        item(6, "接待来访群众3人次，登记信访事项2件", "来访群众"),
    ]
    best = fivetwo_candidates(quarter, 3, themes).best
    assert len(best) == 3
    assert sum("安全生产" in text for text in best) == 1, best
    assert any("招商引资" in text for text in best)
    assert any("信访" in text for text in best)


@pytest.mark.parametrize(
    ("concerns", "weaker"),
    [
        ((), ()),
        (("材料报送不及时",), ("材料报送不及时",)),
        # Newest first as given; repeated and blank ones once; at most two.
        (
            ("信访件办理超期", " 材料报送不及时 ", "材料报送不及时", "", "会议纪要未按时上报"),
            ("信访件办理超期", "材料报送不及时"),
        ),
    ],
)
def test_fivetwo_weaker_suggestions_are_the_supervisors_concerns(concerns, weaker):
    candidates = fivetwo_candidates(MONTH, 5, NoThemes(), concerns)
    assert candidates == FiveTwoCandidates(candidates.best, weaker)
    assert len(candidates.best) == 5


def test_fivetwo_of_a_thin_log_suggests_what_there_is():
    thin = [item(2, "开会"), item(3, "学习"), item(4, "与县财政局核对项目资金预算", "县财政局")]
    assert fivetwo_candidates(thin, 5, NoThemes()).best == ("与县财政局核对项目资金预算",)
    assert fivetwo_candidates([], 5, NoThemes()) == FiveTwoCandidates((), ())


# -- which month or quarter is open -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "today", "grace", "labels"),
    [
        ("month", date(2026, 11, 20), 5, ["2026-11"]),
        ("month", date(2026, 12, 1), 5, ["2026-12", "2026-11"]),
        ("month", date(2026, 12, 5), 5, ["2026-12", "2026-11"]),
        ("month", date(2026, 12, 6), 5, ["2026-12"]),
        ("month", date(2027, 1, 3), 5, ["2027-01", "2026-12"]),
        ("quarter", date(2026, 11, 20), 10, ["2026Q4"]),
        ("quarter", date(2026, 10, 10), 10, ["2026Q4", "2026Q3"]),
        ("quarter", date(2026, 10, 11), 10, ["2026Q4"]),
        ("quarter", date(2027, 1, 2), 10, ["2027Q1", "2026Q4"]),
    ],
)
def test_open_periods(kind, today, grace, labels):
    assert [p.label for p in open_periods(kind, today, grace)] == labels
