"""Tests for scoring.text: item splitting, collaborator extraction, duplicates and trivia."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from scoring.text import (
    CollaboratorExtractor,
    clean_text,
    has_content,
    is_overlong,
    split_items,
)

# ---------------------------------------------------------------------------
# split_items
# ---------------------------------------------------------------------------

SPLIT_CASES: list[tuple[str, list[str]]] = [
    # one item, nothing to split
    ("上午参加县委常委会扩大会议", ["上午参加县委常委会扩大会议"]),
    ("  走访辖区企业3家，了解用工需求。  ", ["走访辖区企业3家，了解用工需求。"]),
    ("起草全县经济运行分析报告；", ["起草全县经济运行分析报告"]),
    # line breaks
    ("开会\n调研\n写材料", ["开会", "调研", "写材料"]),
    ("开会\r\n调研\r\n", ["开会", "调研"]),
    ("开会\n\n\n调研", ["开会", "调研"]),
    ("走访企业\u2028撰写材料", ["走访企业", "撰写材料"]),
    # numbered lines
    (
        "1.参加全县安全生产会议\n2.走访慰问困难群众5户",
        ["参加全县安全生产会议", "走访慰问困难群众5户"],
    ),
    ("1．开会\n2．调研", ["开会", "调研"]),
    ("1、开会\n2、调研\n3、值班", ["开会", "调研", "值班"]),
    ("1)开会\n2)调研", ["开会", "调研"]),
    ("1）开会\n2）调研", ["开会", "调研"]),
    ("(1)开会\n(2)调研", ["开会", "调研"]),
    ("（1）开会\n（2）调研", ["开会", "调研"]),
    ("①开会\n②调研", ["开会", "调研"]),
    ("一、开会\n二、调研", ["开会", "调研"]),
    ("（一）开会\n（二）调研", ["开会", "调研"]),
    ("10.整理档案\n11.报送信息", ["整理档案", "报送信息"]),
    ("１．开会\n２．调研", ["开会", "调研"]),
    # bullets
    ("- 开会\n* 调研\n• 走访\n· 值班", ["开会", "调研", "走访", "值班"]),
    ("- 1.开会\n- 2.调研", ["开会", "调研"]),
    # inline numbered items
    ("1.开会 2.调研", ["开会", "调研"]),
    ("1.开会，2.调研，3.督导", ["开会", "调研", "督导"]),
    ("1.开会；2.调研；", ["开会", "调研"]),
    ("①走访企业②撰写材料③值班", ["走访企业", "撰写材料", "值班"]),
    ("(1)开会(2)调研", ["开会", "调研"]),
    ("一、开会 二、调研 三、值班", ["开会", "调研", "值班"]),
    ("（一）开会；（二）调研；", ["开会", "调研"]),
    ("十、总结 十一、计划", ["总结", "计划"]),
    ("2.调研 3.写材料", ["调研", "写材料"]),
    ("1.开会2.调研", ["开会", "调研"]),
    (
        "1.一事一记,每天记录工作开展情况 2.注明合作者或服务对象",
        ["一事一记,每天记录工作开展情况", "注明合作者或服务对象"],
    ),
    # a heading that introduces the list is not an item (it used to be one)
    ("今日工作：1.开会 2.调研", ["开会", "调研"]),
    ("1.完成投资2.5亿元 2.走访企业3家", ["完成投资2.5亿元", "走访企业3家"]),
    ("1.开会\n2.调研 3.写材料", ["开会", "调研", "写材料"]),
    # decimals, dates, times and ordinals are not markers
    ("完成投资1.5亿元", ["完成投资1.5亿元"]),
    ("11.20召开项目推进会", ["11.20召开项目推进会"]),
    ("2026.11.20 参加培训", ["2026.11.20 参加培训"]),
    ("9:30参加县政府常务会议", ["9:30参加县政府常务会议"]),
    ("上午 9.30 开会", ["上午 9.30 开会"]),
    ("完成第1、2季度报表", ["完成第1、2季度报表"]),
    ("1、2月份共走访企业30家", ["1、2月份共走访企业30家"]),
    ("一、二季度经济运行分析", ["一、二季度经济运行分析"]),
    ("统一、规范台账管理", ["统一、规范台账管理"]),
    ("1.完成第2、第3批验收", ["完成第2、第3批验收"]),
    ("1.5万元慰问金已发放", ["1.5万元慰问金已发放"]),
    ("-5℃低温天气巡查", ["-5℃低温天气巡查"]),
    # numbering that is not sequential stays in one item
    ("1.开会 3.调研", ["开会 3.调研"]),
    ("完成任务 1、组织学习", ["完成任务 1、组织学习"]),
    ("见附件(1)和附件(2)", ["见附件(1)和附件(2)"]),
    ("1.开会 ②调研", ["开会 ②调研"]),
    # nothing but whitespace and markers
    ("", []),
    ("   \n\t\n", []),
    ("  \n 1. \n ; ", []),
    ("①②", []),
    # invisible or content-free text is no item (zero-width, BOM, bidi controls, punctuation)
    ("\u200b\u200c\u200d\ufeff", []),
    ("\u202d\u202e\u200f", []),
    ("。。。！！？…—", []),
    ("1.开会\n2.。。。\n3.调研", ["开会", "调研"]),
    ("走访\u200b企业\u202e", ["走访企业"]),
    ("🙂👍", []),
    # numbering of any width, on one line or on separate lines
    ("99、办99 100、办100 101、办101", ["办99", "办100", "办101"]),
    ("130.走访企业第130家\n131.走访企业第131家", ["走访企业第130家", "走访企业第131家"]),
    ("(100)接待群众(101)调解纠纷", ["接待群众", "调解纠纷"]),
    # semicolons end items on a line without numbering, not inside a numbered item
    (
        "上午参加党组会；下午走访华新水泥公司；晚上值班",
        ["上午参加党组会", "下午走访华新水泥公司", "晚上值班"],
    ),
    ("开会;调研", ["开会", "调研"]),
    ("1.走访企业；协调用电\n2.值班", ["走访企业；协调用电", "值班"]),
    # headings: dropped when they introduce items, kept when they are all there is
    ("今日工作：\n1.参加党组会\n2.调研", ["参加党组会", "调研"]),
    ("上午：\n开会\n下午：\n调研", ["开会", "调研"]),
    ("主要工作:1.开会 2.调研", ["开会", "调研"]),
    ("今日工作：开会；学习文件", ["开会", "学习文件"]),
    ("上午：参加党组会", ["上午：参加党组会"]),
    ("调研：走访华新水泥公司", ["调研：走访华新水泥公司"]),
    ("今日工作：", ["今日工作："]),
    ("9：30到高新区管委会对接", ["9：30到高新区管委会对接"]),
    ("开会\n下午：", ["开会", "下午："]),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_split_items(text: str, expected: list[str]) -> None:
    assert split_items(text) == expected


def test_two_hundred_numbered_items_on_one_line_are_two_hundred_entries() -> None:
    text = " ".join(f"{n}、办{n}" for n in range(1, 201))
    assert split_items(text) == [f"办{n}" for n in range(1, 201)]


def test_text_is_stored_in_nfc() -> None:
    decomposed = "Cafe\u0301对接"  # "é" as e + combining acute accent
    assert split_items(decomposed) == ["Café对接"]
    assert clean_text(decomposed) == "Café对接"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("开会", True), ("A", True), ("3", True), ("。。！", False), ("🙂", False), ("", False)],
)
def test_has_content(text: str, expected: bool) -> None:
    assert has_content(text) is expected


def test_split_cases_are_many() -> None:
    assert len(SPLIT_CASES) >= 40


def _is_subsequence(part: str, whole: str) -> bool:
    remaining = iter(whole)
    return all(ch in remaining for ch in part)


@pytest.mark.parametrize(("text", "expected"), SPLIT_CASES)
def test_split_items_keeps_order_and_adds_nothing(text: str, expected: list[str]) -> None:
    assert _is_subsequence("".join(split_items(text)), text)


@pytest.mark.parametrize(
    "text",
    [
        "1.召开防汛调度会议，部署巡查任务 2.到城关镇检查山塘水库3座",
        "①陪同市领导调研园区企业②向县发改委报送项目材料；③值班",
        "(1)接待来访群众12人次(2)协调解决用工问题",
        "- 整理档案\n- 报送信息，共5条",
        "完成投资1.5亿元，11.20召开推进会，第1、2季度报表已报",
    ],
)
def test_split_items_never_loses_content(text: str) -> None:
    # Every ideograph of the message ends up in some item (markers here hold no ideographs).
    def ideographs(s: str) -> Counter[str]:
        return Counter(ch for ch in s if "\u4e00" <= ch <= "\u9fff")

    assert ideographs("".join(split_items(text))) == ideographs(text)


def test_split_items_keeps_a_very_long_item_whole() -> None:
    long_item = "深入开展调查研究" * 100
    assert split_items(long_item) == [long_item]


@pytest.mark.parametrize(
    ("item", "limit", "expected"),
    [
        ("走访企业", 500, False),
        ("字" * 500, 500, False),
        ("字" * 501, 500, True),
        ("走访企业3家", 5, True),
    ],
)
def test_is_overlong(item: str, limit: int, expected: bool) -> None:
    assert is_overlong(item, limit) is expected


def test_is_overlong_default_limit() -> None:
    assert is_overlong("字" * 501) is True
    assert is_overlong("字" * 500) is False


# ---------------------------------------------------------------------------
# duplicates and trivial entries
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# CollaboratorExtractor
# ---------------------------------------------------------------------------

UNITS = ["县发改委", "市住建局", "城关镇人民政府", "高新区管委会", "县财政局"]
PEOPLE = ["张伟", "李娜", "王强"]


@pytest.fixture(scope="module")
def extractor() -> CollaboratorExtractor:
    ex = CollaboratorExtractor(UNITS, PEOPLE)
    ex.warm_up()
    return ex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # (a) roster units and people
        ("与县发改委对接项目用地", "县发改委"),
        ("协助城关镇人民政府开展征迁工作", "城关镇人民政府"),
        ("同高新区管委会对接招商项目", "高新区管委会"),
        ("前往高新区管委会对接", "高新区管委会"),
        ("和张伟一起核对扶贫台账", "张伟"),
        ("跟王强对接合同", "王强"),
        ("陪同张伟副县长调研", "张伟"),
        ("与张伟、李娜一起走访企业", "张伟、李娜"),
        ("同县发改委、市住建局联合检查", "县发改委、市住建局"),
        ("与县财政局、县自然资源局会商土地指标", "县财政局、县自然资源局"),
        ("与县自然资源局、县财政局对接", "县自然资源局、县财政局"),
        # (b) the phrase after a cue word
        ("走访慰问困难群众5户", "困难群众"),
        ("陪同市领导调研园区企业", "市领导"),
        ("向县委组织部报送干部考核材料", "县委组织部"),
        ("配合市生态环境局开展环保督察", "市生态环境局"),
        ("会同财政局审核项目资金", "财政局"),
        ("接待来访群众12人次", "来访群众"),
        ("帮扶脱贫户发展产业", "脱贫户"),
        ("陪同省专家组检查验收", "省专家组"),
        ("对接华为公司洽谈合作", "华为公司"),
        ("与南京客商洽谈", "南京客商"),
        ("帮助李家村修缮水渠", "李家村"),
        # (c) an organisation named anywhere
        ("到县住建局协调老旧小区改造资金", "县住建局"),
        ("到市第一人民医院协调床位", "市第一人民医院"),
        ("到东湖社区入户核查低保对象", "东湖社区"),
        # nobody named: the writer's own scope or a plain task
        ("参加全县安全生产会议", None),
        ("起草全县经济运行分析报告", None),
        ("起草年度工作总结", None),
        ("围绕中心工作开展调研", None),
        ("在政务服务大厅值班", None),
        ("完成项目申报和资金拨付", None),
        ("为期三天的业务培训", None),
        ("同比增长15%", None),
        ("与12345热线对接", None),
        # a bare generic word, or one with only scope or size words, names nobody
        ("为企业办理营业执照3件", None),
        ("给村民讲解医保政策", None),
        ("服务企业3家,解决用工问题", None),
        ("对接客商洽谈新能源项目", None),
        ("走访了3家企业", None),
        ("走访辖区企业了解用工需求", None),
        ("向上级汇报防汛工作", None),
        ("与同事一起整理档案", None),
        ("走访企业、群众", None),
        ("组织农户开展技能培训", None),
        ("审核各乡镇上报的统计报表", None),
        ("向分管领导汇报工作进展", None),
        # a meeting, or the body holding it, is no partner
        ("参加县政府常务会议", None),
        ("参加县委理论学习中心组学习", None),
        ("召开支部委员会，研究发展党员事项", None),
        # a name inside a document title is no partner
        ("撰写《关于城关镇防汛工作的调研报告》", None),
        # a qualifier makes a definite group; a name gives way to the organisation it starts
        ("为桃花村村民讲解医保政策", "桃花村村民"),
        ("向刘镇长汇报拆迁进度", "刘镇长"),
        ("与县气象局会商强降雨天气", "县气象局"),
        ("对接金龙纺织有限公司二期扩建项目", "金龙纺织有限公司"),
        ("协调县供电公司解决项目临时用电问题", "县供电公司"),
        ("", None),
        ("   ", None),
    ],
)
def test_extract(extractor: CollaboratorExtractor, text: str, expected: str | None) -> None:
    assert extractor.extract(text) == expected


def test_known_faults_stay_fixed(extractor: CollaboratorExtractor) -> None:
    # Issue 9: a meeting is not a collaborator, nor is a bare generic word ...
    assert extractor.extract("召开党组会") is None
    assert extractor.extract("走访企业") is None
    # ... while a named company or a definite group of people served still is.
    assert extractor.extract("走访华新水泥公司") == "华新水泥公司"
    assert extractor.extract("接待来访群众") == "来访群众"
    # A heading ending with a colon that introduces a numbered list is not an item.
    assert split_items("今日工作：1.开会 2.调研") == ["开会", "调研"]


def test_extractor_uses_its_own_tokenizer(extractor: CollaboratorExtractor) -> None:
    import jieba

    extractor.extract("协助城关镇人民政府开展征迁工作")
    assert "城关镇人民政府" not in jieba.dt.FREQ


def test_add_names_after_load_and_cache_in_given_dir(tmp_path: Path) -> None:
    ex = CollaboratorExtractor(["县发改委"], [], cache_dir=str(tmp_path))
    assert ex.extract("协助向前整理档案") is None
    assert list(tmp_path.iterdir()), "jieba's dictionary cache belongs in cache_dir"
    ex.add_names(person_names=["向前"], unit_names=["12345热线"])
    assert ex.extract("协助向前整理档案") == "向前"
    assert ex.extract("与12345热线对接") == "12345热线"


def test_add_names_before_load() -> None:
    ex = CollaboratorExtractor()
    ex.add_names(["县文旅局"], ["欧阳娜娜"])
    assert ex.extract("协助欧阳娜娜整理档案") == "欧阳娜娜"
    assert ex.extract("与县文旅局对接") == "县文旅局"
