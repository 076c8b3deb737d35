"""The kind of an absence (请假 / 出差 / 培训 / 会议 / 其他), recognised from its reason."""

from __future__ import annotations

import unicodedata
from typing import Literal

AbsenceKindName = Literal["leave", "trip", "training", "meeting", "other"]

# Tiers checked in order; the first tier with a keyword in the reason decides. An explicit
# 请假 word wins over everything ("请假参加孩子家长会" is leave), then an explicit 出差;
# after that the purpose beats the travel ("赴省委党校培训" is training, "赴京参会" a meeting).
_TIERS: tuple[tuple[AbsenceKindName, tuple[str, ...]], ...] = (
    (
        "leave",
        (
            "请假",
            "病假",
            "事假",
            "年假",
            "年休",
            "休假",
            "公休",
            "产假",
            "陪产",
            "育儿假",
            "护理假",
            "哺乳假",
            "婚假",
            "丧假",
            "探亲",
            "调休",
            "补休",
            "轮休",
            "住院",
            "就医",
            "看病",
            "生病",
        ),
    ),
    ("trip", ("出差",)),
    ("training", ("培训", "学习班", "党校", "进修", "轮训", "研修", "集训", "跟班学习")),
    (
        "meeting",
        (
            "会议",
            "开会",
            "参会",
            "列席",
            "座谈会",
            "会商",
            "大会",
            "年会",
            "两会",
            "人代会",
            "党代会",
            "常委会",
            "党组会",
        ),
    ),
    ("trip", ("外出", "招商", "赴", "前往", "考察", "调研", "驻村", "下乡", "外派", "公干")),
)


def absence_kind(reason: str) -> AbsenceKindName:
    """Return the kind of an absence from its free-text reason; "other" when nothing fits."""
    text = unicodedata.normalize("NFKC", reason)
    for kind, words in _TIERS:
        if any(word in text for word in words):
            return kind
    return "other"
