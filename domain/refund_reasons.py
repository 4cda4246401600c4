"""Why students ask for their money back: the reason they pick from a list (`RefundReasonCode`), and
the same vocabulary read out of the words they type (`reason_topic`), so the monthly report can set
the two side by side."""

from __future__ import annotations

from enum import StrEnum

from domain.text import KeywordFinder


class RefundReasonCode(StrEnum):
    SCHEDULE_CONFLICT = "schedule_conflict"
    COURSE_QUALITY = "course_quality"
    TEACHER = "teacher"
    TECHNICAL_PROBLEM = "technical_problem"
    PRICE = "price"
    BOUGHT_BY_MISTAKE = "bought_by_mistake"
    PERSONAL = "personal"
    OTHER = "other"


REASON_LABELS = {
    "zh-CN": {
        "schedule_conflict": "时间冲突，没空上课",
        "course_quality": "课程内容或质量不满意",
        "teacher": "对老师不满意",
        "technical_problem": "技术问题（卡顿、无法上课）",
        "price": "价格原因",
        "bought_by_mistake": "买错或重复购买",
        "personal": "个人或家庭原因",
        "other": "其他",
    },
    "en": {
        "schedule_conflict": "Schedule conflict, no time for classes",
        "course_quality": "Not happy with the course's content or quality",
        "teacher": "Not happy with the teacher",
        "technical_problem": "Technical problems (lag, cannot attend)",
        "price": "The price",
        "bought_by_mistake": "Bought by mistake or twice",
        "personal": "Personal or family reasons",
        "other": "Other",
    },
}


# --- keyword grouping of the student's own words -------------------------------------------------

# Every keyword belongs to one topic (a test checks it). Lower case: the text is lowered first.
# fmt: off
TOPIC_KEYWORDS: dict[RefundReasonCode, tuple[str, ...]] = {
    RefundReasonCode.SCHEDULE_CONFLICT: (
        "时间冲突", "没时间", "没有时间", "没空", "时间不够", "时间不合适", "时间安排", "上课时间", "课表",
        "加班", "工作忙", "工作太忙", "工作调动", "出差", "倒班", "schedule", "no time", "busy", "clash",
        "overtime", "business trip",
    ),
    RefundReasonCode.COURSE_QUALITY: (
        "质量", "内容", "太简单", "太难", "听不懂", "没听懂", "没什么用", "没有用", "不实用", "没效果",
        "效果不好", "效果差", "与宣传不符", "货不对板", "水课", "quality", "content", "too easy",
        "too hard", "too difficult", "useless", "not useful", "boring", "not as advertised", "misleading",
    ),
    RefundReasonCode.TEACHER: (
        "老师", "讲师", "助教", "班主任", "teacher", "tutor", "instructor", "lecturer",
    ),
    RefundReasonCode.TECHNICAL_PROBLEM: (
        "卡顿", "卡死", "卡住", "黑屏", "白屏", "闪退", "崩溃", "无法播放", "播放不了", "没声音", "登录",
        "登不上", "网络", "加载", "video", "crash", "lag", "freez", "login", "log in", "buffer", "bug",
    ),
    RefundReasonCode.PRICE: (
        "价格", "太贵", "好贵", "很贵", "降价", "涨价", "差价", "优惠", "便宜", "费用", "price", "expensive",
        "cheaper", "discount", "afford", "cost",
    ),
    RefundReasonCode.BOUGHT_BY_MISTAKE: (
        "买错", "拍错", "误购", "误拍", "点错", "不小心", "重复购买", "重复下单", "买重", "买了两次",
        "mistake", "by accident", "accidentally", "wrong course", "bought twice", "duplicate",
    ),
    RefundReasonCode.PERSONAL: (
        "个人原因", "家里", "家庭", "生病", "身体", "住院", "怀孕", "搬家", "出国", "不想学", "没兴趣",
        "personal reason", "family", "sick", "illness", "health", "moving", "pregnan", "lost interest",
    ),
}
# fmt: on
# When two topics have as many keywords in a text, the more specific one wins: "买错了课程" is a
# mistake before it is about the course.
TOPIC_PREFERENCE = (
    RefundReasonCode.BOUGHT_BY_MISTAKE,
    RefundReasonCode.TECHNICAL_PROBLEM,
    RefundReasonCode.TEACHER,
    RefundReasonCode.COURSE_QUALITY,
    RefundReasonCode.PRICE,
    RefundReasonCode.SCHEDULE_CONFLICT,
    RefundReasonCode.PERSONAL,
)

_TOPIC_OF_KEYWORD = {word: topic for topic, words in TOPIC_KEYWORDS.items() for word in words}
_KEYWORDS = KeywordFinder(_TOPIC_OF_KEYWORD)
_PREFERENCE_RANK = {topic: rank for rank, topic in enumerate(TOPIC_PREFERENCE)}


def reason_keywords(text: str) -> set[str]:
    """The topics' keywords the text mentions."""
    return _KEYWORDS.find(text)


def reason_topic(text: str) -> RefundReasonCode:
    """The topic whose keywords the text mentions most (ties: `TOPIC_PREFERENCE`); `other` when it
    mentions none."""
    hits: dict[RefundReasonCode, int] = {}
    for word in _KEYWORDS.find(text):
        topic = _TOPIC_OF_KEYWORD[word]
        hits[topic] = hits.get(topic, 0) + 1
    if not hits:
        return RefundReasonCode.OTHER
    return max(hits, key=lambda topic: (hits[topic], -_PREFERENCE_RANK[topic]))
