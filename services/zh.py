"""Every Chinese string a cadre or an admin reads, in one place so the wording can be reviewed."""

from __future__ import annotations

from typing import Any

KIND_LABELS = {
    "regular": "日常工作",
    "other": "其他工作",
    "after_hours": "八小时外",
}
WEEKDAYS = "一二三四五六日"

# Menu shown by Telegram next to the input field (setMyCommands).
COMMANDS = [
    ("today", "今天的日志"),
    ("week", "本周日志和完成情况"),
    ("month", "本月日志和完成情况"),
    ("edit", "修改今天第n条：/edit 2 新内容"),
    ("del", "撤回今天第n条：/del 2"),
    ("backfill", "补记：/backfill 昨天 内容"),
    ("reflect", "心得体会：/reflect 内容"),
    ("leave", "请假出差：/leave 11-20 11-22 出差"),
    ("with", "改合作者：/with 2 县发改委"),
    ("summary", "月度工作小结"),
    ("fivetwo", "季度5+2实绩登记表"),
    ("cancel", "退出正在填写的表单"),
    ("settings", "提醒时间、第二次提醒"),
    ("chart", "本月日志热力图（上级：团队完成率图）"),
    ("projects", "我的项目"),
    ("weblogin", "网页版登录链接"),
    ("app", "在 Telegram 里打开网页版"),
    ("progress", "报送项目进展：/progress 项目 内容"),
    ("help", "使用说明"),
]

# Binding (/start)
NOT_REGISTERED = "您还没有绑定账号，暂时不能记日志。\n请打开组织部发给您的邀请链接，再点「开始」。"
INVITE_UNKNOWN = "邀请链接无效。\n请核对链接，或联系单位管理员重新获取。"
INVITE_USED = "这个邀请链接已经用过了。\n如需重新绑定，请联系单位管理员获取新链接。"
INVITE_EXPIRED = "这个邀请链接已于 {date} 过期。\n请联系单位管理员重新获取。"
INVITE_INACTIVE = "您的人员信息已停用。\n如有疑问，请联系单位管理员。"
BOUND = (
    "绑定成功：{name}（{unit}）\n"
    "从现在起，直接发消息就是记工作日志。\n"
    "一事一记：一行一件事，一条消息可写多行。\n"
    "发送 /help 查看全部功能。"
)
ALREADY_BOUND = "您已绑定为 {name}（{unit}）。\n直接发送工作内容即可记录。"
REBOUND_OLD_ACCOUNT = "您的日志账号已在另一个 Telegram 账号上重新绑定，本账号不再记录。"

# Recording
RECORDED_HEAD = "已记录 {date} {count}条："
RECORDED_LATE_HEAD = "已补记 {date} {count}条："
LATE_MARK = "【补记】"
MORE_ITEMS = "……另有{n}条未列出，均已保存。"
OVERLONG_NOTE = "（第{numbers}条较长，已完整保存；建议一事一句。）"
AFTER_HOURS_HINT = "现在是八小时外。如果是八小时外的工作，请点「改为八小时外」。"
COLLABORATOR = "（合作者：{name}）"
BUTTON_WITHDRAW = "撤回"
BUTTON_WITHDRAW_N = "撤回{n}"
BUTTON_KIND = "类别：{label}"
BUTTON_KIND_N = "{n}：{label}"
BUTTON_AFTER_HOURS = "改为八小时外"
EMPTY_MESSAGE = "内容是空的。请直接发送工作内容，例如：\n与县发改委对接项目用地问题"
PHOTO_NO_CAPTION = (
    "照片已收到，但没有文字说明，未记录。\n请重新发送照片，并在「添加说明」里写上做了什么工作。"
)
UNSUPPORTED_MEDIA = {
    "voice": "暂不支持语音。请用文字发送工作内容（可用手机输入法的语音转文字）。",
    "sticker": "表情不能记为日志。请用文字发送工作内容。",
    "other": "暂不支持这种消息。请用文字发送工作内容，照片请附文字说明。",
}
DOCUMENT_NO_CAPTION = (
    "文件已收到，但没有文字说明，未记录。\n请重新发送文件，并在「添加说明」里写上做了什么工作。"
)
GROUP_CHAT = "工作日志是个人的，请在与我的私聊中记录，群里的消息不会记录。"

# Buttons pressed
WITHDRAWN = "已撤回第{n}条。"
ALREADY_WITHDRAWN = "第{n}条已经撤回过了。"
KIND_CHANGED = "第{n}条已改为「{label}」。"
STALE_BUTTON = "这个按钮已失效。"
WITHDRAWN_MARK = "（已撤回）"

# Commands
EDITED = "已修改第{n}条：\n{text}"
NOT_CHANGED = "第{n}条内容没有变化。"
EDIT_USAGE = "用法：/edit 序号 新内容\n例如：/edit 2 与县发改委对接项目用地\n序号见 /today。"
DEL_USAGE = "用法：/del 序号\n例如：/del 2\n序号见 /today。"
WITH_USAGE = "用法：/with 序号 合作者或服务对象\n例如：/with 2 县发改委\n写 /with 2 无 可清空。"
WITH_SET = "第{n}条的合作者已改为：{name}"
WITH_CLEARED = "第{n}条的合作者已清空。"
NO_SUCH_ENTRY = "今天没有第{n}条。发送 /today 查看序号。"
ENTRY_IS_WITHDRAWN = "第{n}条已撤回，不能再修改。"
OUT_OF_WINDOW = "{date} 的日志已超过补记期限（最近{window}个工作日），不能再修改。"
BACKFILL_USAGE = (
    "用法：/backfill 日期 内容\n例如：/backfill 昨天 参加全县项目推进会\n"
    "日期可写 2026-11-20、11-20、昨天、前天。"
)
BAD_DATE = "看不懂日期「{text}」。\n可写 2026-11-20、11-20、昨天、前天。"
BACKFILL_TODAY = "今天的工作直接发送即可，不用补记。"
FUTURE_DATE = "不能给将来的日期（{date}）记日志。"
BACKFILL_TOO_OLD = (
    "只能补记最近{window}个工作日的日志，{date} 已超过期限。\n如有特殊情况，请联系单位管理员。"
)
REFLECT_USAGE = "用法：/reflect 心得体会\n例如：/reflect 做群众工作要多听少说"
REFLECT_SAVED = "已保存 {date} 的心得体会。"
REFLECT_REPLACED = "已更新 {date} 的心得体会（原内容已留档）。"
LEAVE_USAGE = (
    "用法：/leave 开始日期 [结束日期] 事由\n"
    "例如：/leave 11-20 11-22 出差省城招商\n或：/leave 今天 病假"
)
LEAVE_NO_REASON = "请写明事由（请假、出差、培训、会议等）。\n" + LEAVE_USAGE
LEAVE_BAD_RANGE = "结束日期 {end} 早于开始日期 {start}。"
LEAVE_TOO_LONG = "一次最多登记{days}天。"
LEAVE_TOO_OLD = "只能登记最近{days}天内开始的请假或出差。"
LEAVE_TOO_FAR = "只能登记{days}天以内的请假或出差。"
LEAVE_SAVED = "已登记{kind}：{start}{end} {reason}\n这些天不计入未记录天数。"
# Absence kinds (absences.kind), recognised from the reason of /leave.
ABSENCE_KINDS = {
    "leave": "请假",
    "trip": "出差",
    "training": "培训",
    "meeting": "会议",
    "other": "其他",
}
TOO_LONG_COMMAND = "内容太长（超过{limit}字），请分几条发送。"

# Views
DAY_HEAD = "{date}（周{weekday}）工作日志 {count}条"
DAY_EMPTY = "{date}（周{weekday}）还没有记录。\n直接发送工作内容即可记录。"
REFLECTION_LINE = "心得体会：{text}"
PERIOD_HEAD = "{label} 工作日志"
COMPLETENESS = "应记{expected}天 已记{logged}天 请假{excused}天\n完成率 {rate}"
MISSING_DAYS = "未记：{days}"
EXCUSED_LINE = "{kind}：{start}{end} {reason}"
PERIOD_EMPTY = "这段时间还没有记录。"
CONTINUED = "（续）"

HELP_CADRE = (
    "【记日志】直接发消息，一行一件事。\n"
    "照片请附文字说明。\n"
    "/today 今天的日志\n"
    "/week 本周  /month 本月\n"
    "/edit 2 新内容  修改第2条\n"
    "/del 2  撤回第2条\n"
    "/with 2 县发改委  改合作者\n"
    "/backfill 昨天 内容  补记\n"
    "/reflect 内容  心得体会\n"
    "/leave 11-20 11-22 出差  请假出差\n"
    "/summary 月度工作小结\n"
    "/fivetwo 季度5+2实绩登记表\n"
    "/cancel 退出正在填写的表单\n"
    "/settings 提醒时间\n"
    "/comments 上级对您的点评\n"
    "/chart [11月] 日志热力图\n"
    "/projects 我的项目\n"
    "/progress 项目 内容  报送项目进展\n"
    "/weblogin 网页版登录链接（手机浏览器）\n"
    "/app 在 Telegram 里打开网页版\n"
    "\n"
    "凌晨{rollover}点前发的消息记入前一天。\n"
    "可补记最近{window}个工作日。"
)
HELP_SUPERVISOR = (
    "\n【上级】您有{count}名直接下属：\n"
    "/team [本月] 下属完成情况\n"
    "/check [姓名] 抽查日志\n"
    "/review 姓名 [11月] 调阅日志\n"
    "/comment 姓名 + 内容  正面点评（- 为负面）\n"
    "/comments 姓名 [2026] 正面、负面清单\n"
    "/evaluate 姓名 内容  本季度领导评鉴\n"
    "/chart [本月] 下属完成率图（/chart 我 看自己的热力图）"
)
HELP_RATER = (
    "\n【评定】可调阅、点评本单位及下级单位干部：\n"
    "/review 姓名 [期间]  /comments 姓名\n"
    "/comment 姓名 + 内容"
)
HELP_ADMIN = "\n【管理员】可调阅全市干部日志：/review 姓名 [期间]  /comments 姓名"

INTERNAL_ERROR = "处理时出错了，已记录问题。请稍后再试。"
UPDATE_PARKED = "这条消息暂时无法处理，已留存，管理员会跟进。请稍后再试或换种写法。"
UNKNOWN_COMMAND = "没有这个命令。发送 /help 查看可用命令。"
EDITED_MESSAGE_HEAD = "已按修改后的消息更新 {date} 的日志："

# Supervisors, raters and admins (下管一级): /team, /check, /review, /comment, /evaluate
PERIOD_HINT = "期间可写：本月、上月、11月、2026-11、2026Q4、2026H2、2026。"
BAD_PERIOD = "看不懂期间「{text}」。\n" + PERIOD_HINT
FUTURE_PERIOD = "{label} 还没有开始。\n" + PERIOD_HINT
NO_REPORTS = "花名册中您没有直接下属，无法查看团队或抽查。\n如有出入，请联系单位管理员。"
NO_REACH = {
    "review": "调阅只能针对您的直接下属（下管一级）。花名册中您没有直接下属。",
    "comments": "只能查看您直接下属的点评清单。花名册中您没有直接下属。",
    "comment": "点评只能针对您的直接下属（下管一级）。花名册中您没有直接下属。",
    "check": "抽查只能针对您的直接下属。花名册中您没有直接下属。",
    "evaluate": "领导评鉴只能针对您的直接下属。花名册中您没有直接下属。",
    "rate": "评定只能针对本单位及下级单位的干部。",
}
NOT_IN_REACH = (
    "在您可以查看的人员中没有找到「{name}」。\n请核对姓名或工号；/team 可查看您的直接下属。"
)
AMBIGUOUS_NAME = "有多位「{name}」，请改用工号，例如 /{command} 工号："
CANDIDATE = "{id} {name}（{unit}·{position}）"
LOST_REACH = "您已不能查看此人的日志（花名册已变更）。"
REVIEW_TEXT_TOO_LONG = "内容太长（超过{limit}字），请精简后再发。"

TEAM_HEAD = "{label} 下属完成情况（{total}人）"
TEAM_TO_DATE = "截至今天，今日已记{today}人"
TEAM_LINE = "{n}. {name} {logged}/{expected}天 {rate}"
TEAM_EXCUSED = " 假{days}天"
TEAM_TODAY_YES = " ✅今日已记"
TEAM_TODAY_NO = " ⚠️今日未记"
TEAM_PAGE = "第{page}/{pages}页"
TEAM_FOOT = "/review 姓名 调阅  /check 抽查"
RATE_NONE = "无应记"
BUTTON_PREVIOUS = "◀ 上一页"
BUTTON_NEXT = "下一页 ▶"

REVIEW_USAGE = "用法：/review 姓名或工号 [期间]\n例如：/review 张三 11月\n" + PERIOD_HINT
REVIEW_HEAD = "{name}（{roster_id}·{unit}）{label} 工作日志 {count}条"
REVIEW_EMPTY = "这段时间没有记录。"
REVIEW_CHANGED_MARK = "【已修改】"
REVIEW_FILE = "{name} {label} 共{count}条，条目较多，已整理成表格文件发送。"
REVIEW_FILE_CAPTION = "{name} {label} 工作日志（{count}条）"
REVIEW_SHEET_TITLE = "工作日志"
REVIEW_SHEET_HEADER = (
    "日期",
    "序号",
    "内容",
    "类别",
    "合作者或服务对象",
    "补记",
    "已修改",
    "已撤回",
    "质量提示",
)
YES = "是"

CHECK_HEAD = "抽查 {label}{whom}：{count}条"
CHECK_POOL = "（从{candidates}条中按完成率和内容抽取）"
CHECK_WHOM = "·{name}"
CHECK_LINE = "{n}. {name} {date}第{item}条：{text}"
CHECK_REASONS = {
    "short": "过短",
    "generic": "笼统",
    "repeated": "重复",
    "low_completeness": "完成率低",
}
CHECK_REASON_NOTE = "（{reasons}）"
CHECK_VERDICT = {"good": "👍", "poor": "👎"}
CHECK_REMARK_LINE = "   意见：{remark}"
CHECK_FOOT = "逐条点 👍 或 👎；点 👎 后可回复写明问题，会转告本人。"
CHECK_NOTHING = "{label}下属还没有可抽查的日志。"
CHECK_VERDICT_SAVED = "第{n}条：{mark}"
REMARK_PROMPT = "请直接回复本消息，写明第{n}条的问题（{name}：{text}）。\n#抽查{item}"
REMARK_PLACEHOLDER = "指出问题，例如：内容过于笼统，请写明做了什么"
REMARK_USAGE = "意见是空的。请回复抽查消息，写明问题。"
REMARK_SAVED = "已记录对{name}第{n}条的意见，并已转告本人。"
REMARK_TO_CADRE = "上级{checker}抽查了您{date}第{n}条日志：{entry}\n意见：{remark}"

COMMENT_USAGE = (
    "用法：/comment 姓名或工号 + 内容（正面）\n或：/comment 姓名或工号 - 内容（负面）\n"
    "例如：/comment 张三 + 招商项目跟进及时"
)
COMMENT_SAVED_POSITIVE = "已给{name}记正面点评，并已告知本人：{text}"
COMMENT_SAVED_NEGATIVE = "已给{name}记负面点评，并已告知本人：{text}"
COMMENT_TO_CADRE_POSITIVE = "上级{author}对您的工作给予正面点评：{text}"
COMMENT_TO_CADRE_NEGATIVE = "上级{author}对您的工作提出意见：{text}\n请注意改进。"
COMMENTS_HEAD = "{name} {label} 点评"
COMMENTS_OWN_HEAD = "您 {label} 收到的点评"
COMMENTS_POSITIVE = "【正面清单】{count}条"
COMMENTS_NEGATIVE = "【负面清单】{count}条"
COMMENTS_LINE = "{date} {author}：{text}"
COMMENTS_NONE = "（无）"

EVALUATE_USAGE = (
    "用法：/evaluate 姓名或工号 评鉴内容\n例如：/evaluate 张三 本季度招商任务完成突出，作风扎实"
)
EVALUATION_SAVED = "已保存对{name} {quarter} 的领导评鉴。"
EVALUATION_REPLACED = "已更新对{name} {quarter} 的领导评鉴（原内容已留档）。"

# Reminders and the weekly digest (scheduled jobs) and /settings
DAILY_REMINDER = "{date}（周{weekday}）还没有记工作日志。\n直接发消息即可记录，一行一件事。"
DAILY_NUDGE = "提醒：{date} 的工作日志还没有记录。\n如今天请假或出差，请点下方按钮。"
BUTTON_EXCUSE_LEAVE = "今天请假"
BUTTON_EXCUSE_TRIP = "今天出差"
BUTTON_LATER = "稍后提醒"
EXCUSE_REASON = {"leave": "请假（提醒按钮登记）", "trip": "出差（提醒按钮登记）"}
EXCUSED_BY_BUTTON = "已登记{date}{what}，这天不计入未记录天数。"
EXCUSE_WHAT = {"leave": "请假", "trip": "出差"}
SNOOZED = "好的，{minutes}分钟后再提醒您。"
ALREADY_LOGGED = "{date} 已有记录，不用再提醒。"
REMINDER_DAY_PASSED = "这条提醒已过期。"
WEEKLY_DIGEST_HEAD = "上周（{start}–{end}）团队日志完成情况，{count}人："
WEEKLY_DIGEST_LINE = "{name} {logged}/{expected}天 {rate}"
WEEKLY_DIGEST_MORE = "……另有{count}人，发送 /team 上周 查看全部。"
WEEKLY_DIGEST_BLOCKED = "收不到提醒（已屏蔽机器人）：{names}"
WEEKLY_DIGEST_FOOT = "/team 上周  查看详情"
SETTINGS_TEXT = (
    "提醒设置\n每日提醒时间：{time}{own}\n第二次提醒（{nudge_at}）：{nudge}\n"
    "点下方按钮修改，或发送 /settings 18:00"
)
SETTINGS_OWN = "（自选）"
SETTINGS_DEFAULT = "（默认）"
SETTINGS_NUDGE_ON = "开"
SETTINGS_NUDGE_OFF = "关"
SETTINGS_NUDGE_DISABLED = "未启用"
BUTTON_NUDGE_OFF = "关闭第二次提醒"
BUTTON_NUDGE_ON = "开启第二次提醒"
BUTTON_DEFAULT_TIME = "恢复默认"
SETTINGS_SAVED = "已保存。"
SETTINGS_BAD_TIME = "提醒时间须在 {start} 到 {end} 之间，例如 /settings 18:00。"

# Scheduled jobs as operators see them (worklog jobs list | run)
JOB_ABOUT = {
    "daily-reminder": "工作日{window}每{every}分钟：提醒到了提醒时间、当天未记且未请假的干部",
    "daily-nudge": "工作日{at}：第二次提醒仍未记录的干部（可在 /settings 关闭）",
    "weekly-digest": "每周（{day}）{at}：向上级发送团队上周完成情况",
    "housekeeping": "每天{at}：清除已处理消息的过期内容；缺少当年节假日安排时告知管理员",
    "quality": "每天{at}：检查新记录（含补记和修改过的）是否重复、雷同、琐碎或过长，标出质量提示",
    "quarterly-review": "每季度最后一个工作日{at}：提醒上级本季度尚未调阅的下属",
    "monthly-summary": "每月最后一个工作日{at}：请干部写月小结（未确认的）",
    "quarterly-fivetwo": "每季度最后一个工作日{at}：请干部填写5+2实绩登记表（未提交的）",
    "fivetwo-deadline": "5+2截止次日{at}：提醒逾期干部，并告知其上级",
    "rating-reminder": "每季度最后一个工作日{at}：提醒评定人准备等次评定",
    "year-end": "每年最后一个工作日{at}：年终考评提示",
    "half-year": "1月、7月第一个工作日{at}：向各单位管理员发送上半年/下半年完成情况表（半年公示）",
    "project-stale": "工作日{at}：提醒超过{days}天未报送进展的项目的项目秘书（无秘书则牵头领导）",
    "backup": "每天{at}：备份数据库到 {dir}，保留最近{keep}份",
}
JOB_LIST_LINE = "{name}\t{about}\t下次：{next}"
JOB_DONE = "{name}（{key}）：计划发送 {count} 条。{note}"
JOB_NOTE_NOT_WORKING_DAY = "非工作日，不提醒。"
JOB_NOTE_NUDGE_OFF = "第二次提醒未启用或非工作日。"
JOB_NOTE_PURGED = "清除了{count}条过期消息内容。"
JOB_NOTE_NOT_YET = "今天不是本期最后一个工作日，不发送。"
QUARTERLY_REVIEW = (
    "{quarter} 季查阅提醒：本季度您还没有调阅以下{count}名下属的日志：{names}\n"
    "发送 /review 姓名 季度 调阅，例如 /review 张三 本季度"
)
QUARTERLY_REVIEW_DONE = "{quarter} 季查阅：本季度您已调阅全部直接下属的日志。"
MONTHLY_NOTICE = (
    "今天是{month}最后一个工作日，请写本月小结。\n"
    "点下方按钮查看根据您本月日志生成的草稿，修改后确认；也可发送 /summary。"
)
BUTTON_OPEN_SUMMARY = "查看本月小结草稿"
FIVETWO_NOTICE = (
    "{quarter} 即将结束，请填写「5+2」实绩登记表（5件最满意、2件不够满意的工作）和自评，"
    "{deadline}前提交。发送 /fivetwo 开始，候选事项来自您本季度的日志。"
)
FIVETWO_LATE = "{quarter}「5+2」实绩登记表已过提交期限，您还没有提交。请发送 /fivetwo 尽快补交。"
FIVETWO_LATE_TEAM = "{quarter}「5+2」实绩登记表：您的{count}名下属逾期未交：{names}"
YEAR_END_NOTICE = (
    "{year}年最后一个工作日。年终考评即将开始：请发送 /month 和 /comments 回顾全年日志与点评，"
    "按单位通知准备年度总结。"
)
CALENDAR_MISSING = (
    "{year}年的国务院节假日安排尚未收录，系统暂按周一至周五计算工作日。"
    "请在配置 calendar.extra_holidays / extra_workdays 中补充节假日和调休，或升级 chinesecalendar。"
)
HALF_YEAR_CAPTION = "{label} 工作日志完成情况（半年公示）：{units}个单位、{people}人。"
HALF_YEAR_TITLE = "{label} 工作日志完成情况"
HALF_YEAR_SUMMARY_SHEET = "单位汇总"
HALF_YEAR_SUMMARY_HEADER = ("单位", "人数", "应记天数", "已记天数", "完成率%")
HALF_YEAR_DETAIL_SHEET = "干部明细"
HALF_YEAR_DETAIL_HEADER = (
    "单位",
    "工号",
    "姓名",
    "职务",
    "应记天数",
    "已记天数",
    "请假天数",
    "完成率%",
)
RATING_REMINDER = (
    "{quarter} 即将结束，请准备本季度干部等次评定（好 / 较好 / 一般 / 差，"
    "「好」一般不超过本单位评定人数的40%）。可用 /review 姓名 本季度 查阅干部日志。"
)
JOB_UNKNOWN = "没有任务「{name}」。可用：{names}"
JOB_BAD_DAY = "日期「{text}」看不懂，请写成 2026-11-20。"
JOB_BAD_HALF = "半年「{text}」看不懂，请写成 2026H1 或 2026H2。"
JOB_BAD_YEAR = "年份「{text}」看不懂，请写成 2026。"
JOB_BAD_MONTH = "月份「{text}」看不懂，请写成 2026-11。"
JOB_BAD_QUARTER = "季度「{text}」看不懂，请写成 2026Q4。"
JOB_BAD_WEEK = "周「{text}」看不懂，请写成 2026-W47 或该周的某一天。"
JOB_NOTE_BACKUP = "已备份到 {path}（{size}），删除了{removed}份旧备份。"

# Backup and restore (worklog backup | restore, the daily backup job)
BACKUP_DONE = "已备份到 {path}（{size}）：人员 {people} 人，日志 {entries} 条。"
BACKUP_INTEGRITY_OK = "备份副本的完整性检查（integrity_check）通过。"
RESTORE_DONE = "已从 {source} 恢复：人员 {people} 人，日志 {entries} 条。"
RESTORE_ASIDE = "原数据库已另存为 {path}"
RESTORE_MIGRATED = "备份的数据库版本 {revision}，已升级到 {head}。"
BACKUP_ERRORS = {
    "exists": "{path} 已存在，未覆盖；要覆盖请加 --force。",
    "same_file": "{path} 就是数据库本身，不能把备份写到它上面。",
    "no_database": "数据库文件 {path} 不存在，没有可备份的内容。",
    "unsupported": "不支持此类数据库：{url}。只能备份和恢复 SQLite 文件或 PostgreSQL。",
    "copy_corrupt": "备份副本未通过完整性检查（{detail}），已丢弃；数据库 {path} 可能已损坏。",
    "missing": "备份文件 {path} 不存在。",
    "not_sqlite": "{path} 不是 SQLite 数据库文件，未恢复，数据库未改动。",
    "corrupt": "{path} 已损坏（完整性检查：{detail}），未恢复，数据库未改动。",
    "no_revision": "{path} 不是本系统的数据库（没有 alembic_version），未恢复，数据库未改动。",
    "unknown_revision": (
        "{path} 的数据库版本 {revision} 本程序不认识（可能来自更新的版本），未恢复，"
        "数据库未改动；请先升级程序。"
    ),
    "running": (
        "数据库 {path} 正被运行中的服务（worklog run）使用，未恢复，数据库未改动；"
        "请先停止服务再恢复。"
    ),
    "confirm_pg": (
        "注意：PostgreSQL 上无法检测是否有服务在用数据库，恢复会清空并替换其中全部数据。"
        "请先停止所有 worklog run 进程，再加 --yes 执行恢复。数据库未改动。"
    ),
    "not_dump": "{path} 不是 pg_dump 备份文件（{detail}），未恢复，数据库未改动。",
    "tool_missing": (
        "找不到 {tool}（PostgreSQL 客户端工具），请先安装（Debian：apt-get install "
        "postgresql-client），或在装有它的机器上手动执行（密码用 PGPASSWORD 环境变量给出）：\n"
        "{command}"
    ),
    "tool_failed": "{tool} 执行失败：{detail}",
}


def file_size(size: int) -> str:
    """A file size for people: 812 KB, 3.4 MB, 1.2 GB."""
    if size < 1024**2:
        return f"{max(round(size / 1024), 1)} KB"
    if size < 1024**3:
        return f"{size / 1024**2:.1f} MB"
    return f"{size / 1024**3:.1f} GB"


# The audit trail (worklog audit)
AUDIT_HEADER = "时间\t事件\t命令\t操作人\t对象\t详情"
AUDIT_EMPTY = "没有符合条件的记录。"
AUDIT_LIMITED = "（只列出最近{count}条，可用 --since 或 --limit 调整）"
AUDIT_NO_PERSON = "没有工号为 {id} 的人员。"
AUDIT_BAD_DATE = "日期「{text}」格式不对，请写成 2026-11-01。"
AUDIT_ACCOUNT = "TG账号{id}"
AUDIT_ACTIONS = {
    "read": "查阅",
    "read_refused": "查阅被拒",
    "bound": "绑定",
    "unbound": "解除绑定",
    "invite_refused": "邀请无效",
    "refused_unregistered": "未绑定访问",
    "roster_import": "导入花名册",
    "reflection_replaced": "心得体会更新",
    "evaluation_replaced": "领导评鉴更新",
    "summary_replaced": "工作小结更新",
    "fivetwo_replaced": "5+2登记表更新",
    "rating_changed": "等次更改",
    "rating_cap_set": "好等次比例核定",
    "projects_imported": "项目台账导入",
    "web_link_issued": "签发网页登录链接",
    "web_login": "网页登录",
    "grades_export": "导出考核表",
}

# The roster import and invite links (the admin reads these in the CLI)

FIELD_LABELS = {
    "roster_id": "工号",
    "name": "姓名",
    "unit": "单位",
    "position": "职务",
    "supervisor_id": "上级工号",
    "role": "角色",
    "parent_unit": "上级单位",
    "unit_category": "单位类别",
    "joined_on": "到岗日期",
}
FILE_NOT_FOUND = "找不到花名册文件：{path}"
FILE_UNREADABLE = "无法读取花名册文件 {path}：{error}"
FILE_OLD_XLS = "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV（UTF-8）后再导入。"
FILE_ENCODING = "无法识别文件编码，请在 Excel 中另存为「CSV UTF-8（逗号分隔）」后再导入。"
FILE_EMPTY = "花名册文件是空的：第一行应为表头（工号、姓名、单位、职务、上级工号、角色）。"
MISSING_COLUMN = "花名册缺少「{label}」列（表头可写：{aliases}）。第一行应为表头。"
DUPLICATE_COLUMN = "表头「{first}」和「{second}」都表示「{label}」，请只保留一列。"
REFUSED_EMPTY_ID = "第{line}行：工号为空"
REFUSED_DUPLICATE_ID = "第{line}行：工号 {roster_id} 与第{first_line}行重复，以第{first_line}行为准"
REFUSED_EMPTY_NAME = "第{line}行：工号 {roster_id} 的姓名为空"
REFUSED_EMPTY_UNIT = "第{line}行：{name}（{roster_id}）的单位为空"
REFUSED_TOO_LONG = "第{line}行：{label}超过{limit}个字"
REFUSED_BAD_ROLE = "第{line}行：角色「{role}」无法识别（可写：干部、上级、评定、管理员）"
REFUSED_SELF_SUPERVISOR = "第{line}行：{name}（{roster_id}）的上级工号是本人"
REFUSED_UNKNOWN_SUPERVISOR = "第{line}行：上级工号 {supervisor_id} 不存在"
REFUSED_SUPERVISOR_CYCLE = "第{line}行：上级关系形成循环 {chain}"
REFUSED_SUPERVISOR_REFUSED = (
    "第{line}行：上级 {supervisor_id}（第{supervisor_line}行）未导入，本行也未导入"
)
CYCLE_LONG = "{chain} → …… → {first}（共{count}人）"
REFUSED_SELF_PARENT_UNIT = "第{line}行：单位「{unit}」的上级单位是它本身"
REFUSED_PARENT_UNIT_CONFLICT = (
    "第{line}行：单位「{unit}」的上级单位写为{parent}，而第{first_line}行写为{first_parent}；"
    "同一单位各行的上级单位须一致"
)
PARENT_UNIT_NAMED = "「{name}」"
PARENT_UNIT_EMPTY = "空"
REFUSED_PARENT_UNIT_CYCLE = "第{line}行：上级单位关系形成循环 {chain}"
UNIT_CYCLE_LONG = "{chain} → …… → {first}（共{count}个单位）"
REFUSED_UNIT_CATEGORY_CONFLICT = (
    "第{line}行：单位「{unit}」的单位类别写为「{category}」，而第{first_line}行写为"
    "「{first_category}」；同一单位各行的单位类别须一致"
)
REFUSED_BAD_JOINED_DATE = (
    "第{line}行：到岗日期「{cell}」无法识别"
    "（可写：2026-11-09、2026/11/9、2026.11.9、2026年11月9日）"
)
REPORT_UNITS_CATEGORIZED = "单位类别更新 {count} 个。"
REPORT_JOINED_DEFAULTED = "新增人员中 {count} 人未填到岗日期，按导入当天 {day} 计。"
REPORT_SUMMARY = (
    "花名册导入完成：新增 {created} 人，更新 {updated} 人，未变 {unchanged} 人，"
    "未导入 {refused} 行。"
)
REPORT_UNITS = "新建单位 {count} 个。"
REPORT_UNITS_REPARENTED = "调整上级单位 {count} 个。"
REPORT_REFUSED_HEAD = "未导入的行（请修改文件后重新导入，已导入的不会重复）："
INVITES_SUMMARY = "已生成 {count} 个邀请链接，{expires} 前有效，每个链接只能用一次。"
INVITES_LINE = "{roster_id} {name} {link}"
INVITES_UNKNOWN = "花名册中没有这些工号：{ids}"
INVITES_INACTIVE = "这些人员已停用，未生成链接：{ids}"
INVITES_BOUND = "这些人员已绑定 Telegram，未生成链接：{ids}"

# `worklog calendar YEAR`
CALENDAR_HEAD = "{year}年工作日历"
CALENDAR_BAD_YEAR = "年份 {year} 不对，请写成四位数年份，例如 worklog calendar 2026。"
CALENDAR_OFFICIAL = "依据：国务院办公厅公布的节假日安排（法定日历）。"
CALENDAR_MISSING = (
    "注意：尚无{year}年的法定节假日安排（国务院尚未公布，或 chinesecalendar 需要升级），"
    "工作日按周一至周五推算。\n"
    "请在配置 calendar.extra_holidays / extra_workdays 中补充节假日和调休上班日。"
)
CALENDAR_HAS_OVERRIDES = (
    "本年有配置的节假日或调休（calendar.extra_holidays / extra_workdays），优先适用。"
)
CALENDAR_TOTAL = "全年工作日{days}天。"
CALENDAR_MONTH = "{month}月：工作日{days}天（{source}）"
CALENDAR_HOLIDAY = "  放假：{name}{span}（{source}）"
CALENDAR_SPAN = "{start}至{end} 共{days}天"
CALENDAR_MAKE_UP = "  调休上班：{date} 周{weekday}（{holiday}{source}）"
CALENDAR_MAKE_UP_FOR = "{name}调休，"
CALENDAR_PLUS_CONFIG = "，含配置调整"
CALENDAR_SOURCES = {"package": "法定日历", "fallback": "周一至周五推算", "override": "配置"}
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

# Forms: the monthly summary (/summary), the quarterly 5+2 form (/fivetwo), /cancel
FORM_NAMES = {"summary": "工作小结", "fivetwo": "5+2实绩登记表"}
QUARTER_NAMES = "一二三四"
FORM_CANCEL_HINT = "发送 /cancel 退出填写；填写期间发来的文字不记入日志。"
FORM_RESUMED = "继续上次未完成的填写。"
FORM_ENDED = "（未完成的{form}已退出。）"
CANCELLED = "已退出{form}填写。之前提交的内容不受影响。"
NOTHING_TO_CANCEL = "现在没有正在填写的表单。"
EDIT_IN_FORM = "修改已发出的消息不会改动{form}，也不记入日志。请把改好的内容直接再发一次。"
FORM_IN_PROGRESS = "\n（正在填写{form}，发来的文字不记入日志；发送 /cancel 退出。）"

DRAFT_HEAD = "{label}工作小结"
DRAFT_EMPTY = "本月还没有工作日志记录。"
DRAFT_COUNTS = (
    "本月记工作日志{days}天、{count}条"
    "（日常工作{regular}条，其他工作{other}条，八小时外{after_hours}条）。"
)
DRAFT_COMPLETENESS = "应记{expected}天，已记{logged}天{excused}。"
DRAFT_EXCUSED = "，请假/出差{days}天"
DRAFT_LATE = "其中补记{count}条。"
DRAFT_THEMES = "主要工作：{themes}。"
DRAFT_PARTNER = "{name}（{count}次）"
DRAFT_PARTNERS = "主要合作或服务对象：{partners}。"
DRAFT_PROJECTS = "涉及项目{count}个，相关日志{entries}条。"
DRAFT_HIGHLIGHTS = "重点工作："
DRAFT_SHORTCOMINGS = "存在不足：（请补充）"
DRAFT_NEXT = "下月打算：（请补充）"

SUMMARY_WHICH = "不能填写「{text}」的工作小结。现在可以填写：{open}。\n例如：/summary 本月"
SUMMARY_CLOSED = "这个月的工作小结已过填写期限。发送 /summary 填写本月的。"
SUMMARY_DRAFT_SHOWN = "{label}工作小结草稿（根据您的日志生成）："
SUMMARY_CONFIRMED_SHOWN = "您已于{date}提交{label}工作小结："
SUMMARY_OPEN_HINT = "直接使用请点「确认提交」。\n要修改：复制上面的内容，改好后整段发给我。"
SUMMARY_CONFIRMED_HINT = "要修改：复制上面的内容，改好后整段发给我，再点「确认提交」。"
SUMMARY_EDITED = "已收到{label}工作小结修改稿（未记入日志）："
SUMMARY_EDITED_HINT = "核对无误请点「确认提交」；还要改就再发一次全文。"
SUMMARY_DONE = "已提交{label}工作小结（{count}字）。"
SUMMARY_DONE_REPLACED = "已更新{label}工作小结（{count}字），原内容已留档。"
SUMMARY_EMPTY = "小结内容是空的。请发送修改后的小结全文，或点「确认提交」使用草稿。"
SUMMARY_TOO_LONG = "小结太长（超过{limit}字），请精简后再发。"
BUTTON_CONFIRM_SUMMARY = "✅ 确认提交"

FIVETWO_WHICH = "不能填写「{text}」的5+2实绩登记表。现在可以填写：{open}。\n例如：/fivetwo 本季度"
FIVETWO_HEAD = "{label} 5+2实绩登记表"
FIVETWO_SUBMITTED_BEFORE = "（已于{date}提交，可修改后重新提交）"
FIVETWO_STEP_BEST = "第1步（共3步）：选出{count}项最满意的工作，已选{chosen}/{count}。"
FIVETWO_STEP_WEAKER = "第2步（共3步）：选出{count}项不够满意的工作，已选{chosen}/{count}。"
FIVETWO_STEP_SELF = "第3步（共3步）：请直接发送自评（{limit}字以内）。"
FIVETWO_CHOOSE = "点编号选择或取消："
FIVETWO_NOTHING_SUGGESTED = "没有可推荐的条目，请直接发文字填写，一行一项。"
FIVETWO_OWN_MARK = "（自填）"
FIVETWO_CONCERN_MARK = "（上级意见）"
FIVETWO_PICKED = "✅"
FIVETWO_TYPE_HINT = "也可以直接发文字补充，一行一项。选好后点「下一步」。"
FIVETWO_BEST_LIST = "最满意的工作："
FIVETWO_WEAKER_LIST = "不够满意的工作："
FIVETWO_SELF_LINE = "自评：{text}"
FIVETWO_SELF_HINT = "核对无误请点「提交」；重写自评就再发一次。"
FIVETWO_ADDED = "已添加{count}项（未记入日志）。"
FIVETWO_DONE = "已提交{label} 5+2实绩登记表。"
FIVETWO_DONE_REPLACED = "已更新{label} 5+2实绩登记表，原内容已留档。"
FIVETWO_NEED_BEST = "请选满5项最满意的工作再点「下一步」（已选{count}项）。可直接发文字补充。"
FIVETWO_NEED_WEAKER = "请选满2项不够满意的工作再点「下一步」（已选{count}项）。可直接发文字补充。"
FIVETWO_BEST_FULL = "最满意的工作已选满{count}项，请先点掉一项。"
FIVETWO_WEAKER_FULL = "不够满意的工作已选满{count}项，请先点掉一项。"
FIVETWO_BAD_NUMBER = "「{text}」中有本步骤没有的编号，请对照列表。"
FIVETWO_ITEM_EMPTY = "内容是空的。请发送一项工作，或点编号选择。"
FIVETWO_ITEM_TOO_LONG = "每项不超过{limit}字，请精简后再发。"
FIVETWO_TOO_MANY = "列表最多{limit}项，请从已有的里面选择。"
FIVETWO_SELF_EMPTY = "自评是空的。请发送自评内容。"
FIVETWO_SELF_TOO_LONG = "自评太长（超过{limit}字），请精简后再发。"
FIVETWO_FIRST_STEP = "已经是第1步了。"
BUTTON_NEXT_STEP = "下一步 ▶"
BUTTON_PREVIOUS_STEP = "◀ 上一步"
BUTTON_SUBMIT = "✅ 提交"

# Charts (/chart): a cadre's month as a heat map, a supervisor's team as bars
CHART_PERIOD_WORDS = {
    "month": "{year}年{n}月",
    "quarter": "{year}年第{n}季度",
    "half": "{year}年{half}半年",
    "year": "{year}年",
}
CHART_MONTH_HINT = "月份可写：本月、上月、11月、2026-11。"
CHART_BAD_PERIOD = (
    "看不懂期间「{text}」。\n" + CHART_MONTH_HINT + "\n上级看团队还可写：2026Q4、2026H2、2026。"
)
CHART_FUTURE_PERIOD = "{label}还没有开始，画不出图。\n" + CHART_MONTH_HINT
CHART_MONTH_ONLY = (
    "日志热力图按月画，「{text}」不是一个月份。\n" + CHART_MONTH_HINT + "\n例如：/chart 11月"
)
CHART_TEAM_PERIOD = (
    "团队完成率图按月、季度、半年或全年统计，「{text}」不行。\n"
    + PERIOD_HINT
    + "\n看自己的日志热力图：/chart 我"
)
CHART_MONTH_TITLE = "{name} {label} 工作日志"
CHART_MONTH_SUBTITLE = (
    "已记{logged}天 / 应记{expected}天，完成率 {rate}，请假{excused}天，共{entries}条"
)
CHART_WEEKDAY = "周{day}"
CHART_ENTRIES = "{n}条"
CHART_MISSING = "未记"
CHART_EXCUSED = "请假"
CHART_REST = "休"
CHART_PENDING = "待记"
CHART_TODAY = "今天"
CHART_LEGEND_COUNTS = ("1条", "2条", "3条", "4条", "5条以上")
CHART_LEGEND_MISSING = "未记"
CHART_LEGEND_EXCUSED = "请假、出差等"
CHART_LEGEND_REST = "休息日"
CHART_TEAM_TITLE = "{label} 团队日志完成率（{total}人）"
CHART_TEAM_SUBTITLE = "合计已记{logged}天 / 应记{expected}天，完成率 {rate}"
CHART_TO_DATE = "，截至{date}"
CHART_TEAM_SHOWN = "；只列完成率最低的{shown}人"
CHART_BAR_LABEL = "{rate}（{logged}/{expected}天）"
CHART_NAME_ID = "{name}（{id}）"
CHART_RATE_AXIS = "完成率（%）"
CHART_LEGEND_OK = "达到{low}%"
CHART_LEGEND_LOW = "低于{low}%"
CHART_LEGEND_NONE = "无应记天数"
CHART_MONTH_CAPTION = (
    "{name} {label} 日志热力图\n应记{expected}天 已记{logged}天 请假{excused}天 完成率 {rate}"
)
CHART_OWN_HINT = "\n看团队完成率：/chart"
CHART_TEAM_CAPTION = "{label} 团队日志完成率（{total}人），完成率低的在上。"
CHART_TEAM_CAPTION_SHOWN = "\n图中只列完成率最低的{shown}人，/team 查看全部。"
CHART_TEAM_FOOT = "\n/team 看明细  /chart 我 看自己的日志热力图"


# Ratings (/rate, /quota) and the grade export
RATE_USAGE = (
    "用法：/rate 姓名 等次 [季度]\n等次：好、较好、一般、差\n例如：/rate 张伟 好\n"
    "/rate 张伟 较好 2026Q3\n/quota 查看「好」等次名额。"
)
RATE_BAD_GRADE = "没有「{word}」这个等次。等次只能是：好、较好、一般、差。"
RATE_QUARTER_ONLY = "实绩等次按季度评定，看不懂季度「{text}」。\n可写 2026Q4、本季度、上季度。"
RATE_NOT_RATER = "只有单位党委（党组）的评定人可以评定等次。"
RATE_SELF = "不能评定自己的等次。"
RATE_SAVED = "已评定 {name}（{unit}）{quarter}：{grade}"
RATE_CHANGED = "已将 {name}（{unit}）{quarter} 的等次由「{before}」改为「{grade}」（已留档）。"
RATE_UNCHANGED = "{name}（{unit}）{quarter} 已是「{grade}」，没有变化。"
RATE_QUOTA_FULL = (
    "不能评为「好」：{name} 所在单位 {quarter} 的「好」等次名额已用完。\n{quota}\n"
    "可先调整其他人的等次，或评为较好。"
)
QUOTA_HEAD = "{quarter}「好」等次名额："
QUOTA_LINE = (
    "{unit}：参评{cadres}人，上限{percent}%{override}\n  最多{limit}人 已用{used} 剩余{left}"
)
QUOTA_OVERRIDE = "（本季度单独核定）"
QUOTA_NONE = "您评定的单位中没有人员。"
QUOTA_MORE = "……另有{n}个单位未列出，完整情况见 /grades。"
CAP_BAD_PERCENT = "比例「{text}」不对：请写 0 到 100 之间的百分数，例如 70 或 70%。"
CAP_NO_UNIT = "花名册中没有单位「{name}」。"
HELP_RATING = (
    "\n/rate 姓名 好|较好|一般|差 [季度]  评定等次\n"
    "/quota [季度]  「好」等次名额\n"
    "/grades [期间]  本单位考核表（Excel）"
)


def rated(view: Any) -> str:
    """A rating just given and the unit's quota after it (a services.rating.RatingView)."""
    person, grade = view.person, view.rating.word
    names = {"name": person.name, "unit": person.unit_name, "quarter": view.quarter}
    if view.previous is None:
        text = RATE_SAVED.format(grade=grade, **names)
    elif view.previous is view.rating:
        text = RATE_UNCHANGED.format(grade=grade, **names)
    else:
        text = RATE_CHANGED.format(before=view.previous.word, grade=grade, **names)
    return text + "\n" + quota_line(view.quota)


def quota_line(unit: object) -> str:
    """One unit's quota as /quota and a refused /rate show it (a services.rating.UnitQuota)."""
    quota = unit.quota  # type: ignore[attr-defined]
    return QUOTA_LINE.format(
        unit=unit.unit_name,  # type: ignore[attr-defined]
        cadres=quota.cadres,
        percent=f"{quota.percent:g}",
        override=QUOTA_OVERRIDE if quota.overridden else "",
        limit=quota.limit,
        used=quota.used,
        left=quota.left,
    )


NO = "否"
NO_CATEGORY = "未分类"
GRADES_PERIOD_KIND = "考核表按季度、半年或年度生成，看不懂「{text}」。\n可写 2026Q4、2026H2、2026。"
GRADES_NOT_RATER = "只有单位党委（党组）的评定人和管理员可以导出考核表。"
GRADES_CAPTION = "{label} 考核表：{cadres}人{to_date}。"
GRADES_TO_DATE = "（截至今天）"
GRADES_EMPTY = "{label} 您负责的单位中没有在册人员。"
GRADES_SHEET = "考核表"
GRADES_SUMMARY_SHEET = "单位汇总"
GRADES_HEADER = (
    "单位", "工号", "姓名", "职务", "应记天数", "已记天数", "请假天数", "完成率", "补记条数",
    "条目数", "重复或琐碎条数", "正面点评", "负面点评", "5+2已交", "自评", "领导评鉴",
    "评定等次", "实绩得分", "年度建议等次", "说明",
)  # fmt: skip
GRADES_SUMMARY_HEADER = (
    "单位", "单位类别", "人数", "应记天数", "已记天数", "完成率", "好", "较好", "一般", "差",
    "优秀", "称职", "基本称职", "不称职", "平均实绩得分",
)  # fmt: skip
SCORE_HEAD = "{label} 考核汇总{to_date}"
SCORE_COLUMNS = (
    "单位",
    "类别",
    "人数",
    "完成率",
    "好/较好/一般/差",
    "优秀/称职/基本称职/不称职",
    "平均得分",
)
SCORE_NOBODY = "（没有在册人员）"
EXPORT_WRITTEN = "已写入 {path}：{label} 考核表 {rows} 人。"
CAP_SET = "已设定 {unit} {quarter}「好」等次上限为 {percent}%（原为 {before}）。"
CAP_BELOW_USED = "注意：该单位本季度已有 {used} 人评为「好」，超过新上限 {limit} 人；已评的不变，新的「好」将被拒绝。"

# 说明: why a cadre's suggested grade is what it is, one clause per reason.
GRADE_REASONS = {
    "not_rated": "尚未评定实绩等次，暂无得分和建议等次",
    "score_band": "实绩得分{score:g}（称职≥{competent:g}，基本称职≥{basic:g}）",
    "excellent_needs_good": "得分达到优秀线，但实绩等次为「{rating}」，只有「好」才能评优秀",
    "poor_rating_ceiling": "实绩等次为「差」，最高为基本称职",
    "missing_days_ceiling": "提醒后仍无故未记录{days}天（超过{limit}天），最高为基本称职",
    "excellent": "等次「好」且得分≥{min:g}，列本单位优秀名额第{place}/{places}名",
    "excellent_share_full": "符合优秀条件，但本单位优秀名额（{places}名，按{graded}人计）已满",
}
RANK_TEXT = "本类（{category}）第{place}/{of}名"
STANDING_TEXT = {"top": "，列前段", "bottom": "，列后段"}


def grade_explanation(reasons: object, rank: object, category: str) -> str:
    """The 说明 cell: the reasons (scoring.grades.Reason) in words, then the ranking."""
    parts = [
        GRADE_REASONS[r.code].format(**r.values)  # type: ignore[attr-defined]
        for r in reasons  # type: ignore[attr-defined]
    ]
    if rank is not None:
        standing = rank.standing  # type: ignore[attr-defined]
        parts.append(
            RANK_TEXT.format(category=category, place=rank.place, of=rank.of)  # type: ignore[attr-defined]
            + (STANDING_TEXT[standing.value] if standing else "")
        )
    return "；".join(parts) + "。" if parts else ""


# -- 项目: /projects, /progress, the stale-project reminder (services.projects) -------------

PROJECT_MARK = "〔项目：{name}〕"
STAGE_WORDS = {"reserve": "储备", "building": "在建", "producing": "投产", "above_scale": "入规"}
PROJECT_ROLES = {"leader": "牵头领导", "secretary": "项目秘书", "member": "成员"}
PROJECTS_NONE = "您目前不是任何项目的成员、项目秘书或牵头领导。\n如有遗漏，请联系项目台账管理员。"
PROJECTS_HEAD = "您的项目（{count}个）："
PROJECTS_ITEM = "{n}. {name}〔{stage}〕{role}"
PROJECTS_INVESTMENT = "   投资：{completed}／计划{planned}{percent}"
PROJECTS_INVESTMENT_PERCENT = "（{percent}%）"
PROJECTS_NO_INVESTMENT = "   计划投资{planned}，尚未报送完成投资"
PROJECTS_LAST = "   最近进展（{date}）：{text}"
PROJECTS_NEVER = "   尚无进展报送"
PROJECTS_STALE = "   ⚠️ 已{days}天未报送进展"
PROJECTS_TAIL = (
    "报送进展：/progress 项目名或简称 内容\n例：/progress {example} 完成设备安装，累计完成投资3.2亿"
)
PROGRESS_USAGE = (
    "用法：/progress 项目 进展内容\n"
    "项目可写全称、简称或开头几个字。\n"
    "可附：累计完成投资 3.2亿（或 32000万元）；阶段变化写「已投产」「阶段：在建」。\n"
    "例：/progress 华新技改 完成设备安装，累计完成投资3.2亿"
)
PROGRESS_UNKNOWN = (
    "没有找到项目「{name}」。\n发 /projects 查看您的项目，可用全称、简称或开头几个字。"
)
PROGRESS_NOT_MEMBER = "您不是「{name}」的成员、项目秘书或牵头领导，不能报送它的进展。\n如需加入，请联系项目台账管理员。"
PROGRESS_AMBIGUOUS = "「{name}」对应多个项目，请点选要报送的项目："
PROGRESS_CHOICE_GONE = "这个选择已失效，请重新发送 /progress。"
PROGRESS_BAD_INVESTMENT = (
    "累计完成投资的金额看不懂。\n请写成「累计完成投资 3.2亿」或「累计完成投资 32000万元」。"
)
PROGRESS_INVESTMENT_DOWN = "累计完成投资{amount}少于上次报送的{previous}，累计数不能减少。\n请核对后重发；如上次报错，请联系项目台账管理员更正。"
PROGRESS_STAGE_BACK = (
    "「{name}」目前是{before}阶段，改回{after}需要说明原因。\n"
    "例：/progress {name} 阶段：{after} 原因：资金暂未到位"
)
PROGRESS_SAVED = "已报送「{name}」进展，并记入{date}日志第{n}条。"
PROGRESS_REPLAYED = "这条进展已记录过（{date}日志第{n}条）。"
PROGRESS_STAGE_CHANGED = "阶段：{before} → {after}"
PROGRESS_INVESTMENT = "累计完成投资：{amount}{percent}"
PROGRESS_INVESTMENT_UP = "（上次{previous}）"
PROJECT_STALE_REMINDER = (
    "项目进展提醒：「{name}」已{days}天没有报送进展。\n"
    "请发送 /progress {name} 进展内容，可附累计完成投资和阶段变化。"
)
JOB_NOTE_STALE = "{count}个项目超期未报送进展，安排提醒{sent}条。"

# The ledger export (worklog projects export) and the unit project score (projects score).
LEDGER_SHEET = "项目台账"
LEDGER_HEADER = (
    "项目名称",
    "简称",
    "类别",
    "阶段",
    "计划投资（万元）",
    "累计完成投资（万元）",
    "投资完成率",
    "签约日期",
    "开工日期",
    "预计竣工日期",
    "入规日期",
    "重点级别",
    "投资方类别",
    "总部经济",
    "省领导督办",
    "牵头领导",
    "责任单位",
    "工作专班",
    "项目秘书",
    "成员",
    "最近进展日期",
    "最近进展",
    "未报送天数",
    "是否滞后",
)
LEDGER_STALE = "滞后（超过{days}天）"
YES, NO = "是", "否"
PROJECT_SCORE_QUARTER_ONLY = "项目考核按季度计分，请写季度，如 2026Q4（「{text}」不是季度）。"
PROJECT_SCORE_SHEET = "单位得分"
PROJECT_SCORE_HEADER = ("排名", "责任单位", "项目数", "得分", "加分", "减分")
PROJECT_LINES_SHEET = "加减分明细"
PROJECT_LINES_HEADER = ("责任单位", "项目", "规则", "规则分值", "计入得分", "说明")
PROJECT_SCORE_SUMMARY = "{label} 项目建设考核{to_date}：{units}个责任单位"
PROJECT_SCORE_TO_DATE = "（截至今天）"
PROJECT_SCORE_LINE = (
    "{rank}. {unit}  {total:+.2f}（加{bonus:.2f} 减{deduction:.2f}，{projects}个项目）"
)
PROJECT_SCORE_UNASSIGNED = "未填责任单位、未计分的项目：{names}"
PROJECT_SCORE_WRITTEN = "已写入 {path}"
PROJECTS_EXPORTED = "已导出{count}个项目到 {path}"
PROJECT_RULES = {
    "signed_world500": "新招商引资：世界500强投资项目",
    "signed_big": "新招商引资：单体投资{threshold}以上项目",
    "signed_china500": "新招商引资：中国500强投资项目",
    "signed_listed": "新招商引资：主板上市公司投资项目",
    "signed_mid": "新招商引资：单体投资{threshold}以上项目",
    "signed_headquarters": "新招商引资：总部经济项目",
    "started_big": "新开工入库工业项目：总投资{threshold}以上",
    "started_mid": "新开工入库工业项目：总投资{threshold}以上",
    "supervised_on_schedule": "省领导督办项目：完成时序投资进度",
    "supervised_behind": "省领导督办项目：未完成时序投资进度",
    "culture_above_scale": "入限文化产业项目",
    "missing_five_ones": "未落实“五个一”包保机制",
    "late_report": "迟报",
    "poor_data": "数据质量不高",
}
FIVE_ONES_WORDS = {
    "leader": "牵头领导",
    "unit": "责任单位",
    "task_force": "工作专班",
    "secretary": "项目秘书",
}
PROJECT_DETAILS = {
    "signed_on": "{date}签约",
    "started_on": "{date}开工",
    "above_scale_on": "{date}入规",
    "planned": "计划投资{amount}",
    "schedule": "按时序进度应完成投资{expected}，已完成{completed}",
    "missing": "缺{parts}",
    "episodes": "超过{stale_days}天未报送进展{episodes}次",
    "poor_data": "在建项目本季度未报送完成投资",
    "bonus_capped": "超出本季度该类加分上限{cap}分",
    "deduction_capped": "已达该类扣分上限{cap}分",
}


# -- 质量提示: the nightly quality check's flags on entries (scoring.quality) ----------------

# After an entry in /review, one per flag, in this order.
QUALITY_MARKS = {
    "repeat": "〔重复〕",
    "copy": "〔雷同〕",
    "trivial": "〔琐碎〕",
    "long": "〔过长〕",
}
# The review XLSX's 质量提示 column, per flag.
QUALITY_SHEET_NAMES = {"repeat": "重复", "copy": "雷同", "trivial": "琐碎", "long": "过长"}
JOB_NOTE_QUALITY = "检查了{count}条记录（{start}至{end}）。"
JOB_BAD_PERIOD = "时段「{text}」看不懂，请写成 2026-11、2026Q4 或 2026-11-20。"


# -- 项目台账导入: worklog projects import (the admin reads these in the CLI) ---------------

# The ledger's columns as messages name them (field -> label).
PROJECTS_FILE_LABELS = {
    "name": "名称",
    "aliases": "简称",
    "category": "类别",
    "stage": "阶段",
    "planned_investment": "计划投资",
    "leader": "牵头领导",
    "unit": "责任单位",
    "task_force": "工作专班",
    "secretary": "项目秘书",
    "members": "成员",
    "completed_investment": "累计完成投资",
    "signed_on": "签约日期",
    "started_on": "开工日期",
    "expected_on": "预计竣工日期",
    "key_level": "重点级别",
    "investor": "投资方类别",
    "headquarters": "总部经济",
    "supervised": "省领导督办",
    "reason": "说明",
}
PROJECTS_FILE_NOT_FOUND = "找不到项目台账文件：{path}"
PROJECTS_FILE_UNREADABLE = "无法读取项目台账文件 {path}：{error}"
PROJECTS_FILE_EMPTY = (
    "项目台账文件是空的：第一行应为表头（名称、简称、类别、阶段、计划投资、牵头领导、"
    "责任单位、工作专班、项目秘书、成员）。"
)
PROJECTS_FILE_MISSING_COLUMN = "项目台账缺少「{label}」列（表头可写：{aliases}）。第一行应为表头。"
PROJECTS_FILE_CANNOT_READ = "项目台账无法读取：{error}"
PROJECT_IMPORT_SUMMARY = (
    "项目台账导入完成：新增 {created} 个，更新 {updated} 个，未变 {unchanged} 个，"
    "未导入 {refused} 行。"
)
PROJECT_IMPORT_UPDATES = "阶段或累计完成投资有变化的 {count} 个，已记入项目进展。"
PROJECT_IMPORT_FIVE_ONES = (
    "{count} 个项目“五个一”不全（缺牵头领导、责任单位、工作专班或项目秘书，季度考核扣分）。"
)
PROJECT_IMPORT_EMPTY_NAME = "第{line}行：项目名称为空"
PROJECT_IMPORT_DUPLICATE_NAME = (
    "第{line}行：项目「{name}」与第{first_line}行重复，以第{first_line}行为准"
)
PROJECT_IMPORT_BAD_STAGE = "第{line}行：阶段「{cell}」无法识别（可写：储备、在建、投产、入规）"
PROJECT_IMPORT_BAD_AMOUNT = (
    "第{line}行：{label}「{cell}」无法识别（可写：32000（单位万元）、3.2亿、32000万元）"
)
PROJECT_IMPORT_NEGATIVE_AMOUNT = "第{line}行：{label}「{cell}」不能为负数"
PROJECT_IMPORT_BAD_DATE = (
    "第{line}行：{label}「{cell}」无法识别（可写：2026-11-09、2026/11/9、2026年11月9日）"
)
PROJECT_IMPORT_EXPECTED_BEFORE_START = "第{line}行：预计竣工日期 {expected} 早于开工日期 {started}"
PROJECT_IMPORT_BAD_KEY_LEVEL = (
    "第{line}行：重点级别「{cell}」无法识别（可写：省重点、市重点，或留空）"
)
PROJECT_IMPORT_BAD_INVESTOR = (
    "第{line}行：投资方类别「{cell}」无法识别（可写：世界500强、中国500强、上市公司，或留空）"
)
PROJECT_IMPORT_BAD_FLAG = "第{line}行：{label}「{cell}」无法识别（可写：是、否，或留空表示否）"
PROJECT_IMPORT_UNKNOWN_PERSON = "第{line}行：{label}工号 {ids} 不在花名册中"
PROJECT_IMPORT_INACTIVE_PERSON = "第{line}行：{label}工号 {ids} 已停用"
PROJECT_IMPORT_UNKNOWN_UNIT = "第{line}行：责任单位「{unit}」不在花名册中"
PROJECT_IMPORT_ALIAS_TAKEN = (
    "第{line}行：简称「{alias}」与项目「{other}」的名称或简称相同，无法区分"
)
PROJECT_IMPORT_NAME_TAKEN = "第{line}行：名称「{name}」与项目「{other}」的名称或简称相同，无法区分"
PROJECT_IMPORT_STAGE_BACKWARDS = "第{line}行：阶段从{before}退回{after}，须在「说明」列写明原因"
PROJECT_IMPORT_INVESTMENT_DOWN = (
    "第{line}行：累计完成投资从{before}减少为{after}，须在「说明」列写明原因"
)
# The progress update an import writes when it changes a project's stage or investment.
PROJECT_IMPORT_UPDATE_TEXT = "台账导入：{changes}"
PROJECT_IMPORT_UPDATE_STAGE = "阶段 {before} → {after}"
PROJECT_IMPORT_UPDATE_COMPLETED = "累计完成投资 {amount}"
PROJECT_IMPORT_UPDATE_SEPARATOR = "；"


# -- 网页: the mobile web page (web/) and its sign-in (services.web_access) -------------------

TOO_MANY_ROWS = "一次最多提交{limit}条，请分几次提交。"
WEB_TITLE = "工作日志"
WEB_LINK_UNKNOWN = "工号「{roster_id}」不在花名册中或已停用。"
WEB_LINK_FORGED = "这个登录链接无效。请在机器人里发送 /weblogin 获取新链接。"
WEB_LINK_USED = (
    "这个登录链接已经用过了，每个链接只能用一次。请在机器人里发送 /weblogin 获取新链接。"
)
WEB_LINK_EXPIRED = "这个登录链接已过期。请在机器人里发送 /weblogin 获取新链接。"
WEB_APP_DATA_BAD = "无法确认您的 Telegram 身份，请关闭后从机器人重新打开。"
WEB_APP_DATA_OLD = "登录信息已过期，请关闭后从机器人重新打开。"
WEB_APP_NOT_BOUND = "这个 Telegram 账号还没有绑定，请先打开组织部发给您的邀请链接。"
WEB_LOGIN_CONFIRM = "点下面的按钮登录工作日志网页。链接只能用一次，{minutes}分钟内有效。"
WEB_LOGIN_BUTTON = "登录"
WEB_TOO_MANY_LOGINS = "登录尝试太频繁，请一分钟后再试。"
WEB_SIGNED_OUT = "您尚未登录或登录已过期。请在机器人里发送 /weblogin 获取登录链接。"
WEB_CSRF = "页面已过期，请返回刷新后再提交。"
WEB_TOO_LARGE = "提交的内容太多，请分几次提交。"
WEB_NOT_FOUND = "没有这个页面。"
WEB_BAD_DATE = "日期不对，请从列表中选择。"
WEB_SAVED = "已记录{date}{count}条。"
WEB_SAVED_LATE = "已补记{date}{count}条。"
WEB_REPLAYED = "这次提交已经记录过了。"
WEB_WITHDRAWN = "已撤回第{n}条。"
WEB_LOGGED_OUT = "已退出登录。"
WEB_LINK_ISSUED = "网页登录链接（{minutes}分钟内有效，只能用一次，请勿转发）：\n{url}"
WEBLINK_PRINTED = "{name}（{roster_id}）的网页登录链接，{expires} 前有效，只能用一次：\n{url}"
WEB_LOCAL_MODE = "未配置 Telegram 机器人令牌：以本地模式运行，只提供网页和定时任务。"
WEB_MENU_BUTTON = "工作日志"
WEB_APP_BUTTON = "打开工作日志网页"
WEB_APP_OPEN = "点下面的按钮，在 Telegram 里打开工作日志网页。"
WEB_APP_NO_HTTPS = (
    "网页版尚未配置 HTTPS 地址，不能在 Telegram 里直接打开。\n"
    "请发送 /weblogin 获取登录链接，在手机浏览器中打开。"
)
WEB_DISABLED = "网页版未开启，请联系组织部管理员。"


# -- 演示: `worklog demo` (services.demo) and its login links (bot.cli) -----------------------

DEMO_REFUSED = (
    "这个数据库里已有真实花名册（{count}人，如工号「{example}」），演示数据不会写入，数据库未做任何改动。\n"
    "请为演示另配一个数据库，例如 ./dev demo 使用的 demo.toml（[database] url 指向 demo.db）。"
)
DEMO_SEEDED = (
    "已建立演示单位「{county}」：{units}个单位、{people}人；{start}至{end}工作日志{entries}条，"
    "心得体会{reflections}篇，请假、出差、培训{absences}次；项目{projects}个（进展{progress}条）；"
    "本季度已评价{ratings}人。"
)
DEMO_TOPPED_UP = "演示数据已存在（{people}人），补充了{start}至{end}的工作日志{entries}条。"
DEMO_UP_TO_DATE = "演示数据已存在（{people}人），工作日志已是最新。"
DEMO_ADDRESS = "网页地址：{url}"
DEMO_LINKS_HEAD = "登录链接（每个只能用一次，{minutes}分钟内有效）："
DEMO_LINK = "{role}：{name}（{roster_id}，{unit} {position}）\n  {url}"
DEMO_ROLE_CADRE = "普通干部"
DEMO_ROLE_SUPERVISOR = "主管领导"
DEMO_ROLE_RATER = "评价人"
DEMO_MORE_LINKS = "链接用过或过期后，用「{command} 工号」获取新链接，例如：{command} {roster_id}"
DEMO_WEB_DISABLED = "注意：配置中 [web] enabled = false，网页不会启动，以上链接打不开。"
WEB_TEAM_TITLE = "我的团队"
WEB_PERIODS = [("本周", "本周"), ("本月", "本月"), ("上月", "上月"), ("本季度", "本季度")]


def md(day: Any) -> str:
    """A date as every message and page shows it: 11月20日."""
    return f"{day.month}月{day.day}日"


def period_label(period: Any) -> str:
    """本月-style wording of a scoring.dates.Period for headings: 2026年11月, 2026Q4, 2026年."""
    start = period.start
    if period.kind == "month":
        return f"{start.year}年{start.month}月"
    if period.kind == "year":
        return f"{start.year}年"
    if period.kind == "day":
        return md(start)
    if period.kind == "week":
        return f"{md(start)}–{md(period.end)}"
    return str(period.label)


WEB_EDIT_EMPTY = "内容是空的，请填写后再保存；不要这条可以点「撤回」。"
WEB_COLLABORATOR_TOO_LONG = "合作者或服务对象太长（超过{limit}字）。"
WEB_EDITED = "已修改第{n}条。"
WEB_UNCHANGED = "没有改动。"
WEB_HISTORY_ACTIONS = {
    "edit": "修改内容",
    "kind": "修改类别",
    "collaborator": "修改合作者",
    "withdraw": "撤回",
    "edit_withdraw": "撤回（消息编辑删去此行）",
    "restore": "恢复",
}
WEB_BAD_KIND = "类别不对，请从列表中选择。"
WEB_PROJECT_NOT_YOURS = "只能关联您参与的项目，请从列表中选择。"
WEB_RATINGS_TITLE = "实绩评价"
WEB_NOT_YOUR_UNIT = "这个单位不在您的评定范围内。"
WEB_NOT_YOUR_REPORT = "只能查看您直接下级的日志。"

# -- the webhook (operators, `worklog webhook`) --------------------------------------------
WEBHOOK_SET = "已向 Telegram 登记 webhook：{url}（附密钥；待处理的更新保留）。"
WEBHOOK_MODE_HINT = '提示：配置里 telegram.mode 还不是 "webhook"，服务仍会轮询，请一并修改后重启。'
WEBHOOK_DELETED = '已删除 webhook，待处理的更新保留；服务请改用轮询（telegram.mode = "polling"）。'
WEBHOOK_REFUSED = "Telegram 拒绝了请求：{error}"
WEBHOOK_LAST_ERROR = "最近一次投递失败：{when} {error}"


def webhook_info(url: str, expected: str, pending: int, connections: int | None) -> str:
    """What Telegram has registered, and whether it is this configuration's address."""
    if not url:
        return f"未登记 webhook（轮询模式）；待处理更新 {pending} 条。"
    match = "与配置一致" if url == expected else f"与配置不同，配置为 {expected}"
    return f"webhook：{url}（{match}）；待处理更新 {pending} 条；最多并发连接 {connections}。"
