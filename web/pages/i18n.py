"""Page text in zh-CN (the default) and English. `?lang=en` or the citygrid_lang cookie switches."""
from __future__ import annotations

LANGS = ("zh-CN", "en")

TEXT = {
    "app": ("citygrid 一张图", "citygrid"),
    "home": ("首页", "Home"),
    "map": ("地图", "Map"),
    "report": ("上报", "Report"),
    "my_reports": ("我的上报", "My reports"),
    "tasks": ("核实/核查", "Checks"),
    "queue": ("待办案件", "Cases"),
    "desk": ("指挥调度", "Dispatch desk"),
    "approvals": ("审批", "Approvals"),
    "inbox": ("消息", "Inbox"),
    "sign_out": ("退出", "Sign out"),
    "language": ("English", "中文"),
}


def pick(request_lang: str | None, cookie_lang: str | None) -> str:
    """The page language: the query parameter, else the cookie, else zh-CN."""
    for lang in (request_lang, cookie_lang):
        if lang in LANGS:
            return lang
    return "zh-CN"


def translator(lang: str):
    """t(key) → the text in that language (the key itself if unknown, so a gap shows rather than breaks)."""
    index = LANGS.index(lang)
    return lambda key: TEXT.get(key, (key, key))[index]
