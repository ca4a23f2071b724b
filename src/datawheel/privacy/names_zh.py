"""Chinese PERSON: a surname and one or two given-name characters, confirmed by context.

A candidate is a surname (430 single and compound ones) and one or two following characters.
Context decides, in three strengths:
- *strong*: a role or kinship word right before ("客服", "快递员", "收款人：", "店长", "我老公"), a
  title right after ("先生", "女士", "老师", "师傅"), a frame ("和…一起", "跟…说"), or a chat-export
  speaker line ("孙雪 10:32"). Any characters may then be the given name ("张小娴"), so rare
  ones are found;
- *weak*: a function word before ("和", "给", "昨天") or a verb after ("说", "打电话");
- none: only a very common surname with a listed given name is reported.
Where the name ends: the second given character is dropped when it starts a frequent word with
the next character ("和孙雪一起" → 孙雪, "王芳明天" → 王芳) or is a particle ("的", "了").
A chat line's speaker after a timestamp ("2026-11-06 15:27 王文丽：") and the next item of a
list after a name ("参会人：甲、乙") are strong too.
Ordinary words that begin with a surname character ("居然", "高中", "幸福", "华为") are rejected
when their jieba frequency is high, or unless a role word stands before them or an honorific
(先生, 女士 …) after: a role noun after ("周末同学") is not enough (`names_zh_shadows.txt`,
built from jieba's dictionary by `names_zh_build`). Traditional characters are read as
simplified, one for one (`zh_traditional.txt`), so "經理陳美麗" is found like "经理陈美丽".

Limits: a name with no cue and an uncommon surname or given name is missed; a word absent from
jieba's dictionary after a role word ("客服小美") is taken for a name.
"""

from __future__ import annotations

import re
from functools import cache

from datawheel.privacy.names_lists import load_counts, load_list, load_pairs
from datawheel.privacy.spans import Span

__all__ = ["CnPersonRecognizer"]


def _words(block: str) -> tuple[str, ...]:
    return tuple(block.split())


# Role, kinship and label words that a name follows directly (optionally after "：" or a space).
_ROLE_BEFORE = _words(
    """
    我叫 我是 名叫 叫做 姓名 本人 联系人 收件人 寄件人 收货人 收款人 付款人 退款人 汇款人 经办人
    审核人 审批人 负责人 申请人 投诉人 报修人 持卡人 开户人 户名 客户 用户 会员 客服 快递员
    快递小哥 配送员 骑手 司机 师傅 店长 店员 导购 前台 房东 业主 租客 房客 老师 班主任 教练 医生
    护士 患者 病人 员工 同事 同学 室友 朋友 邻居 领导 经理 主管 组长 老板 业务员 销售 顾问 专员
    工程师 维修工 保安 我老公 老公 我老婆 老婆 丈夫 妻子 爱人 我妈 妈妈 我爸 爸爸 儿子 女儿 哥哥
    姐姐 弟弟 妹妹 爷爷 奶奶 外公 外婆 男朋友 女朋友 亲爱的 致 请联系 转告 抄送
    收银员 营业员 服务员 柜员 话务员 接线员 坐席 来电人 签收人 取件人 代收人 记录人 参会人 值班
    主持人 发言人 讲师 发件人 收信人 甲方 乙方 法人 法定代表人 监护人 委托人 受托人 投保人
    被保险人 受益人 借款人 贷款人 担保人 承租人 出租人 当事人 原告 被告 开户名 账户名 户主 车主
    机主 持有人 管理员 操作员 经手人 验收人 制单人 复核人 会计 出纳 主任 科长 处长 院长 校长
    书记 董事长 总经理 客户经理 班长 队长 学生 家长 作者 译者 编辑 记者 摄影
    """
)
_TITLE_AFTER = _words(
    """
    先生 女士 小姐 老师 同学 经理 师傅 医生 律师 总监 主任 阿姨 叔叔 老板 店长 教授 博士 护士
    警官 工程师 您好 你好 同志 的订单 的账户 的手机 的电话 的身份证 的邮箱 的地址 的银行卡
    """
)
# Honorifics said of people only ("周末先生" is no phrase; "华为经理", "数学老师" are).
_HONORIFIC_AFTER = _words("先生 女士 小姐 太太 夫人")
_WEAK_BEFORE = _words(
    """
    和 跟 与 给 让 问 告诉 通知 被 找 感谢 谢谢 叫 昨天 今天 刚才 刚刚 上午 下午 是
    """
)
_WEAK_AFTER = _words(
    """
    说 打电话 打来 发来 发过来 反馈 来电 表示 在 把 也 都 一起 推荐 送 帮 负责 处理 已经 提交
    申请 回复 态度
    """
)
# Characters that end a name only rarely but often start the next word.
_NOT_LAST = frozenset(
    "的了在是说和跟与给也都把被让对向从很就还又才要会能来去到问打送帮已不没太真挺非人"
    "我你他她它们这那吗呢吧啊呀哦嘛啦么"
)
_CUE_WORDS = tuple(w for w in _ROLE_BEFORE + _WEAK_BEFORE if len(w) > 1)
_FRAME_TAILS = ("一起", "一块", "说", "讲", "商量", "联系", "聊")
_SPEAKER_AFTER = re.compile(r"[ \t]+(?:\d{1,2}:\d{2}|\d{4}[-/年])")
_SPEAKER_HEAD = re.compile(r"[ \t]*(?:\[?\d[\d/:.,年月日 -]{3,24}\]?[ \t]*)?")
_LABEL_GAP = re.compile(r"[ \t]?[：:]?")  # matched on the reversed text before a name
_HAN = re.compile(r"[\u4e00-\u9fff]")

# The most frequent surnames (about 70 % of the population): with a listed given name, a name
# without any cue is likely enough to report.
_COMMON = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_SHADOW_ALWAYS = 1000  # a word this frequent in jieba's corpus is a word even after a role word
_COMMON_NEXT = 300  # a two-character word this frequent ("登录") ends a name before its first


@cache
def _surname_pattern() -> re.Pattern[str]:
    surnames = load_list("names_zh_surnames.txt")
    compound = sorted((s for s in surnames if len(s) > 1), key=len, reverse=True)
    single = "".join(sorted(s for s in surnames if len(s) == 1))
    return re.compile("(?:" + "|".join(compound) + r"|[" + single + r"])(?=[\u4e00-\u9fff])")


class CnPersonRecognizer:
    """Chinese names: surname + 1-2 given-name characters, confirmed by context (module doc)."""

    entity = "PERSON"
    name = "person_zh"

    def __init__(self) -> None:
        self.given_chars = load_list("names_zh_given_chars.txt")
        self.given_names = load_list("names_zh_given_names.txt")
        self.shadows = load_counts("names_zh_shadows.txt")
        self.shadows_nr = load_counts("names_zh_shadows_nr.txt")
        self.common_words = load_counts("zh_words_common.txt")
        self.simplified = str.maketrans(load_pairs("zh_traditional.txt"))
        self.pattern = _surname_pattern()

    def trigger(self, text: str) -> bool:
        return _HAN.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        # traditional characters read as simplified, one for one: offsets do not move
        text = text.translate(self.simplified)
        out: list[Span] = []
        pos = 0
        while True:
            m = self.pattern.search(text, pos)
            if m is None:
                return out
            start = m.start()
            inside = text[: start + 1].endswith(_CUE_WORDS)  # "我老公陈桂": not "公陈桂"
            # a name right after another and "、" is the next item of a list ("参会人：甲、乙")
            in_list = bool(out) and out[-1].end == start - 1 and text[start - 1] == "、"
            span = None if inside else self._candidate(text, start, m.end(), in_list)
            if span is None:
                word = text[start : start + 2]
                frequent = self.shadows.get(word, 0) >= _SHADOW_ALWAYS
                pos = start + (2 if frequent else 1)  # "黄金同学": 金 starts no name inside 黄金
                continue
            out.append(span)
            pos = span.end

    def _candidate(self, text: str, start: int, sur_end: int, in_list: bool) -> Span | None:
        if text.startswith(_TITLE_AFTER, sur_end):
            return None  # "刘老师", "金同学": a surname and a title, no given name
        before = 0.35 if in_list else _cue_before(text, start)
        for n in (2, 1):
            end = sur_end + n
            given = text[sur_end:end]
            if len(given) < n or not all("\u4e00" <= c <= "\u9fff" for c in given):
                continue
            if n == 2 and self._ends_early(text, end):
                continue
            after = self._cue_after(text, start, end)
            framed = _in_frame(text, start, end)
            strong = before >= 0.35 or after >= 0.3 or framed
            listed = all(c in self.given_chars for c in given)
            if not strong and not listed:
                continue
            # a role word before, an honorific after ("李娜女士": said of people only) or a frame
            role = before >= 0.35 or framed or text.startswith(_HONORIFIC_AFTER, end)
            both = before > 0 and after >= 0.2
            if self._shadowed(text[start:end], role, both):
                if n == 2 and self._shadowed(text[start : end - 1], role, both):
                    return None  # "高中…": the surname starts an ordinary word
                continue
            if n == 1 and self._dangling(text, end):
                return None  # "姜文波、": not 姜文 with 波 left over
            score = self._score(text, start, sur_end, end, before, after, strong)
            if score is not None:
                return Span(start, end, self.entity, score, self.name)
            if n == 2 and (end == len(text) or not _HAN.match(text[end])):
                return None  # the whole run is the candidate: its first two are no likelier
        return None

    def _dangling(self, text: str, end: int) -> bool:
        """Whether one name-like character stands between ``end`` and the end of the run."""
        nxt = text[end : end + 1]
        if not nxt or not _HAN.match(nxt) or nxt in _NOT_LAST or nxt not in self.given_chars:
            return False
        if text.startswith(_TITLE_AFTER, end) or text.startswith(_WEAK_AFTER, end):
            return False
        return end + 1 == len(text) or not _HAN.match(text[end + 1])

    def _ends_early(self, text: str, end: int) -> bool:
        """Whether the second given character belongs to the next word ("孙雪一起")."""
        last = text[end - 1]
        if last in _NOT_LAST:
            return True
        if text.startswith(_TITLE_AFTER, end):
            return False  # "李小军师傅": the title follows the whole name, not "军师"
        nxt = text[end - 1 : end + 1]
        if len(nxt) == 2 and self.common_words.get(nxt, 0) >= _COMMON_NEXT:
            return text[end - 2 : end] not in self.given_names
        return text.startswith(_TITLE_AFTER, end - 1) or text.startswith(_WEAK_AFTER, end - 1)

    def _shadowed(self, word: str, role: bool, both: bool) -> bool:
        """An ordinary word: always when very frequent; else unless a role word stands before it
        ("周末同学" is no name: a title after an ordinary word is not enough). A frequent word that
        jieba tags as a name ("李娜", but also "盖章", "华为", "龙岩") needs a role word before or
        cues on both sides ("昨天李娜打电话")."""
        freq = self.shadows.get(word, 0)
        if freq >= _SHADOW_ALWAYS or (freq > 0 and not role):
            return True
        return word in self.shadows_nr and not (role or both)

    def _cue_after(self, text: str, start: int, end: int) -> float:
        if text.startswith(_TITLE_AFTER, end):
            return 0.3
        line_start = text.rfind("\n", 0, start) + 1
        head = text[line_start:start]
        if not head.strip() and _SPEAKER_AFTER.match(text, end):
            return 0.3  # a chat export's speaker line: "孙雪 10:32"
        if text.startswith(("：", ":"), end) and _SPEAKER_HEAD.fullmatch(head):
            # "2026-11-06 15:27:09 王文丽：…" (a chat export); "冯璇菲：…" alone is weaker
            return 0.3 if head.strip() else 0.2
        if text.startswith(_WEAK_AFTER, end):
            return 0.2
        return 0.1 if text[end : end + 1] in ("，", ",", "。", "、", "：", ":") else 0.0

    def _score(
        self,
        text: str,
        start: int,
        sur_end: int,
        end: int,
        before: float,
        after: float,
        strong: bool,
    ) -> float | None:
        surname, given = text[start:sur_end], text[sur_end:end]
        if start > 0 and _HAN.match(text[start - 1]) and not before and after < 0.2:
            return None  # inside a run of Chinese text with no cue: likely part of a word
        score = 0.35 if surname in _COMMON or len(surname) == 2 else 0.25
        if given in self.given_names:
            score += 0.15
        score += before + after + (0.3 if strong and before < 0.35 and after < 0.3 else 0.0)
        return round(min(score, 0.95), 3) if score >= 0.5 else None


def _cue_before(text: str, start: int) -> float:
    """0.35 for a role word ("收款人：", "客服"), 0.2 for a function word ("和"), else 0."""
    gap = _LABEL_GAP.match(text[max(0, start - 2) : start][::-1])
    cut = start - (gap.end() if gap else 0)
    window = text[max(0, cut - 5) : cut]
    if window.endswith(_ROLE_BEFORE):
        return 0.35
    if cut == start and window.endswith(_WEAK_BEFORE):
        return 0.2
    return 0.35 if cut < start and text[cut - 1 : cut] in ("人", "名") else 0.0


def _in_frame(text: str, start: int, end: int) -> bool:
    """Whether the candidate sits exactly in "和…一起" / "跟…说"."""
    return start > 0 and text[start - 1] in "和跟与同" and text.startswith(_FRAME_TAILS, end)
