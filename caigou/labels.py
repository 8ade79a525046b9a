"""Words for readers: notice types in Chinese with the English beside them (中标公告 / award), never internal codes,
and the few interface words of the zh / en switch."""
from __future__ import annotations

# The portals' own Chinese names for each notice type of ``models.NOTICE_TYPES``, and the English.
NOTICE_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "intention": ("采购意向", "procurement intention"),
    "tender": ("公开招标", "open tender"),
    "invitation": ("邀请招标", "invited tender"),
    "prequalification": ("资格预审", "prequalification"),
    "consultation": ("竞争性磋商", "competitive consultation"),
    "negotiation": ("竞争性谈判", "competitive negotiation"),
    "inquiry": ("询价", "request for quotation"),
    "single_source": ("单一来源", "single source"),
    "award": ("中标公告", "award"),
    "correction": ("更正公告", "correction"),
    "termination": ("终止公告", "termination"),
    "contract": ("合同公告", "contract"),
    "other": ("其他", "other"),
}


def notice_type_label(code: str) -> str:
    """"中标公告 / award" for ``award``; an unknown code as it is."""
    names = NOTICE_TYPE_NAMES.get(code)
    return f"{names[0]} / {names[1]}" if names else code


LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
# Interface words by language; a word missing here is shown in English.
WORDS: dict[str, dict[str, str]] = {
    "Search": {"zh": "搜索"},
    "Subscriptions": {"zh": "订阅"},
    "Log in": {"zh": "登录"},
    "Log out": {"zh": "退出"},
    "Skip to content": {"zh": "跳到正文"},
    "Subscribe to this search": {"zh": "订阅此搜索"},
    "Query syntax and filters": {"zh": "查询语法与筛选"},
    "notices": {"zh": "条公告"},
    "Review": {"zh": "审核"},
    "back to the results": {"zh": "返回搜索结果"},
    "next unreviewed": {"zh": "下一条未审核"},
    "previous": {"zh": "上一条"},
    "next": {"zh": "下一条"},
}


def translate(word: str, language: str) -> str:
    return WORDS.get(word, {}).get(language, word)
