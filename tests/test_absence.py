"""The kind of an absence, recognised from the reason a cadre typed after /leave."""

from __future__ import annotations

import pytest

from scoring.absence import absence_kind
from storage.models import AbsenceKind

CASES = [
    # 请假 and every kind of 假
    ("请假", "leave"),
    ("病假", "leave"),
    ("下午 病假", "leave"),
    ("事假，孩子开家长会", "leave"),
    ("年假", "leave"),
    ("休年假回老家", "leave"),
    ("带薪年休假", "leave"),
    ("休假", "leave"),
    ("产假", "leave"),
    ("陪产假", "leave"),
    ("婚假", "leave"),
    ("丧假 奔丧", "leave"),
    ("调休", "leave"),
    ("国庆加班后调休一天", "leave"),
    ("住院手术", "leave"),
    ("陪母亲去医院看病", "leave"),
    ("探亲假", "leave"),
    ("请假参加孩子家长会", "leave"),  # an explicit 请假 beats the meeting
    ("请假去省城办私事", "leave"),
    # 出差 and trips
    ("出差", "trip"),
    ("出差省城招商", "trip"),
    ("赴省城招商", "trip"),
    ("赴深圳对接签约项目", "trip"),
    ("外出办事", "trip"),
    ("到北京出差参加项目评审会议", "trip"),  # an explicit 出差 beats the meeting
    ("带队赴浙江考察", "trip"),
    ("前往市里汇报工作", "trip"),
    ("到乡镇调研", "trip"),
    ("驻村工作", "trip"),
    ("下乡督导秋粮收购", "trip"),
    ("招商引资活动", "trip"),
    # training
    ("培训", "training"),
    ("参加市委党校培训", "training"),
    ("市委党校中青班", "training"),
    ("赴省委党校学习", "training"),  # the purpose beats the travel
    ("参加全省扶贫干部轮训", "training"),
    ("县委组织部学习班", "training"),
    ("到浙江大学进修", "training"),
    ("外出培训", "training"),
    ("参加业务研修班", "training"),
    # meetings
    ("会议", "meeting"),
    ("开会", "meeting"),
    ("参加全市经济工作会议", "meeting"),
    ("赴京参会", "meeting"),
    ("列席县人大常委会", "meeting"),
    ("全县三级干部大会", "meeting"),
    ("参加县两会", "meeting"),
    ("市党代会代表", "meeting"),
    # nothing recognisable
    ("借调", "other"),
    ("抽调到县巡察组", "other"),
    ("防汛值班", "other"),
    ("公务", "other"),
    ("其他", "other"),
    ("", "other"),
    ("   ", "other"),
    ("abc", "other"),
    # full-width and mixed input from phones
    ("ＡＢＣ出差", "trip"),
    ("因病请假（发烧）", "leave"),
]


@pytest.mark.parametrize(("reason", "kind"), CASES)
def test_absence_kind(reason: str, kind: str) -> None:
    assert absence_kind(reason) == kind


def test_every_kind_is_a_stored_kind() -> None:
    kinds = {absence_kind(reason) for reason, _ in CASES}
    assert kinds == {k.value for k in AbsenceKind}
