"""Chinese PERSON: a surname and one or two given-name characters, confirmed by context."""

from __future__ import annotations

import re
from functools import cache

from datawheel.privacy.names_lists import load_list
from datawheel.privacy.spans import Span

__all__ = ["CnPersonRecognizer"]

# fmt: off
_ZH_BEFORE = (
    "我叫", "请", "我是", "名叫", "叫做", "姓名", "联系人", "客户", "收件人", "用户", "致",
    "亲爱的", "经办人", "负责人", "患者", "员工", "同事", "寄件人", "申请人", "本人", "请联系",
    "找", "转告", "感谢", "谢谢", "：", ":", "叫",
)
# Function words and time words that often stand right before a person (weaker cue).
_ZH_BEFORE_WEAK = (
    "和", "跟", "与", "给", "让", "问", "告诉", "通知", "抄送", "被", "昨天", "今天",
    "刚才", "刚刚", "上午", "下午",
)
# fmt: on
# fmt: off
_ZH_AFTER = (
    "先生", "女士", "小姐", "老师", "同学", "经理", "您好", "你好", "师傅", "总监", "医生", "律师",
    "主任", "阿姨", "叔叔", "老板", "说", "反馈", "来电", "表示", "的订单", "的账户", "的手机",
    "的电话", "的身份证", "的邮箱", "的地址", "已经",
)
# Verbs and particles that often follow a subject (weaker cue); punctuation is weaker still.
_ZH_AFTER_WEAK = (
    "在", "打电话", "打来", "发来", "发过来", "把", "和", "跟", "也", "都", "让", "要", "会",
    "问", "提交", "申请", "负责", "正在",
)
# fmt: on
# Ordinary words that begin with a surname character; never a name start.
# fmt: off
_ZH_STOP = frozenset(
    [
        "高兴", "高速", "高级", "高效", "方便", "方式", "方面", "方法", "方案", "明天", "明白",
        "明确", "明显", "安全", "安排", "安装", "安心", "周末", "周一", "周二", "周三", "周四",
        "周五", "周六", "周日", "周年", "马上", "常见", "常用", "金额", "文件", "文字", "文明",
        "于是", "程序", "时间", "时候", "向你", "和你", "和我", "和平", "平台", "平安", "平时",
        "成功", "成为", "成本", "关于", "关注", "关系", "关闭", "强烈", "国家", "国际", "华为",
        "江湖", "海外", "海关", "全部", "全国", "全面", "连接", "连续", "管理", "元旦", "信息",
        "信用", "信箱", "信号", "路上", "车辆", "项目", "公司", "公众", "公里", "司机", "计划",
        "计算", "单号", "单位", "任何", "任务", "万一", "钱包", "宁可", "应该", "应用", "原因",
        "原来", "商品", "商家", "商城", "通知", "付款", "支付", "支持", "解决", "解释", "谢谢",
        "那边", "那个", "东西", "包裹", "包装", "余额", "丁点", "申请", "易于", "齐全", "季度",
        "甘心", "卫生", "米饭", "古代", "左右", "左边", "都是", "都有", "花费", "花了", "权利",
        "权限", "章节", "满意", "满足", "盛情", "晋级", "利用", "利息", "幸好", "幸运", "富有",
        "展示", "信任", "来电", "来信", "来自", "阳光", "温馨", "温度", "尤其", "白天", "白色",
        "石头", "龙头", "雷同", "危险", "印象", "慕名", "宣传", "相关", "相同", "初次", "门店",
        "云端", "容易", "敬请", "普通", "戴上", "邮箱", "邮件", "史上", "史无", "黄金", "曲线",
        "师傅", "和好", "牛奶", "文档", "文本", "明细", "康复", "齐心", "何时", "何处", "何况",
        "凌晨", "冷静", "席位", "殷切", "宁愿", "楚楚", "路由", "郎中", "夏天", "秋天", "春天",
        "冬天", "江苏", "浙江", "广东", "湖北", "湖南", "海南", "海口", "山东", "山西", "河北",
        "河南", "云南", "贵州", "四川", "福建", "安徽", "江西", "吉林", "辽宁", "宁夏", "青海",
        "甘肃", "西藏", "新疆", "台湾", "香港", "澳门", "北京", "上海", "天津", "重庆", "黑龙",
        "内蒙", "广西", "陕西", "文章", "安静",
    ]
)
# fmt: on
_HAN = re.compile(r"[\u4e00-\u9fff]")


@cache
def _zh_pattern() -> re.Pattern[str]:
    surnames = load_list("names_zh_surnames.txt")
    compound = sorted((s for s in surnames if len(s) > 1), key=len, reverse=True)
    single = "".join(sorted(s for s in surnames if len(s) == 1))
    given = "".join(sorted(load_list("names_zh_given_chars.txt")))
    return re.compile(
        r"(?P<sur>" + "|".join(compound) + r"|[" + single + r"])(?P<given>[" + given + r"]{1,2})"
    )


# The most frequent surnames (about 70 % of the population); with a known given name, a name
# without a cue is likely enough to report.
_ZH_COMMON = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)


class CnPersonRecognizer:
    """Chinese names: surname + 1-2 given-name characters, confirmed by context or frequency."""

    entity = "PERSON"
    name = "person_zh"

    def __init__(self) -> None:
        self.given_names = load_list("names_zh_given_names.txt")
        self.pattern = _zh_pattern()

    def trigger(self, text: str) -> bool:
        return _HAN.search(text) is not None

    def find(self, text: str, lower: str) -> list[Span]:
        out: list[Span] = []
        pos = 0
        while True:
            m = self.pattern.search(text, pos)
            if m is None:
                return out
            span = self._score(text, m.start(), m.end("sur"), m.end())
            if span is None:
                pos = m.start() + 1  # a rejected start: try from the next character
                continue
            out.append(span)
            pos = span.end

    def _score(self, text: str, start: int, sur_end: int, end: int) -> Span | None:
        if text[start:end][:2] in _ZH_STOP:
            return None
        given = text[sur_end:end]
        if (
            len(given) == 2
            and given not in self.given_names
            and (text[end - 1 : end + 1] in _ZH_STOP or _cue_after(text, end - 1) >= 0.3)
        ):
            end -= 1  # "王芳明天…", "李伟先生" : the second character starts the next word
            given = given[:1]
        before = _cue_before(text, start)
        after = _cue_after(text, end)
        if start > 0 and _HAN.match(text[start - 1]) and not before and after < 0.3:
            return None  # inside a run of Chinese text with no cue: likely part of a word
        surname = text[start:sur_end]
        score = 0.35 if surname in _ZH_COMMON or len(surname) == 2 else 0.25
        if given in self.given_names:
            score += 0.15
        score += before + after
        if score < 0.5:
            return None
        return Span(start, end, self.entity, round(min(score, 0.95), 3), self.name)


def _cue_before(text: str, start: int) -> float:
    """Score a cue before a candidate adds: 0.35 strong ("我叫", "联系人"), 0.2 weak ("和")."""
    before = text[max(0, start - 4) : start]
    if before.endswith(_ZH_BEFORE):
        return 0.35
    return 0.2 if before.endswith(_ZH_BEFORE_WEAK) else 0.0


def _cue_after(text: str, end: int) -> float:
    """Score a cue after a candidate adds: 0.3 strong ("先生"), 0.2 weak ("打电话"), 0.1 "，"."""
    if text.startswith(_ZH_AFTER, end) and not text.startswith(("说明", "在线", "已经是"), end):
        return 0.3
    if text.startswith(_ZH_AFTER_WEAK, end):
        return 0.2
    return 0.1 if text[end : end + 1] in ("，", ",", "。", "、") else 0.0
