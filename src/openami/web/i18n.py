"""Dashboard labels in English and Japanese.

The language comes from ``?lang=en|ja`` (remembered in a cookie), else the cookie, else the
browser's Accept-Language, else English. A missing key shows the key itself, so a gap is
visible instead of crashing a page.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

LANGS = ("en", "ja")
COOKIE = "openami_lang"

MESSAGES: dict[str, tuple[str, str]] = {
    # key: (English, Japanese)
    "app.tagline": ("smart metering system", "スマートメーターシステム"),
    "nav.overview": ("Overview", "概要"),
    "nav.network": ("Network", "通信網"),
    "nav.supply_point": ("Supply point", "供給地点"),
    "nav.rollout": ("Rollout", "導入計画"),
    "lang.switch": ("日本語", "English"),
    "day": ("Day", "日付"),
    "jst": ("JST", "日本時間"),
    "no_data": ("No readings collected yet.", "まだ検針データがありません。"),
    "meters_installed": ("Meters installed", "設置済みメーター数"),
    "kpi.collection_30min_rate": ("30-minute collection rate", "30分収集率"),
    "kpi.delivery_60min_rate": ("60-minute collection rate", "60分収集率"),
    "kpi.collection_48h_rate": ("48-hour collection rate", "48時間収集率"),
    "kpi.automatic_reading_rate": ("Automatic reading rate", "自動検針率"),
    "kpi.network_connection_rate": ("Network connection rate", "ネットワーク接続率"),
    "kpi.remote_operation_success_rate": ("Remote operation success", "遠隔操作成功率"),
    "kpi.clock_compliance_rate": ("Clock compliance", "時刻精度適合率"),
    "target": ("target", "目標"),
    "meets_target": ("meets target", "目標達成"),
    "below_target": ("below target", "目標未達"),
    "trend": ("Trend over the last days", "直近の推移"),
    "amr_by_area": ("Automatic reading rate by utility area", "エリア別 自動検針率"),
    "area": ("Area", "エリア"),
    "utility": ("Utility", "一般送配電事業者"),
    "meters": ("Meters", "メーター数"),
    "method": ("Method", "通信方式"),
    "by_method": ("Collection by communication method", "通信方式別の収集状況"),
    "method.mesh": ("920 MHz mesh", "920MHz無線マルチホップ"),
    "method.cellular": ("Cellular", "携帯電話網"),
    "method.plc": ("PLC", "PLC"),
    "method.all": ("All", "全体"),
    "network.title": ("Network", "通信網"),
    "by_concentrator": ("Concentrators, worst first", "コンセントレーター別(悪い順)"),
    "concentrator": ("Concentrator", "コンセントレーター"),
    "timeline": ("Collection per slot", "コマ別の収集状況"),
    "timeline.help": (
        "Share of meters whose read of each half-hour slot end arrived within 30 minutes, "
        "within 60 minutes, and so far.",
        "各30分コマ終了時点の指示値が30分以内・60分以内・現時点までに届いたメーターの割合。",
    ),
    "so_far": ("received so far", "現時点までに受信"),
    "within_30min": ("within 30 min", "30分以内"),
    "within_60min": ("within 60 min", "60分以内"),
    "page": ("Page", "ページ"),
    "prev": ("Previous", "前へ"),
    "next": ("Next", "次へ"),
    "of": ("of", "/"),
    "sort_hint": ("Click a column heading to sort.", "列見出しをクリックすると並べ替えます。"),
    "sp.title": ("Supply point", "供給地点"),
    "sp.search": ("Search", "検索"),
    "sp.search_label": (
        "Supply point ID (22 digits, or its beginning)",
        "供給地点特定番号(22桁または先頭部分)",
    ),
    "sp.not_found": ("No supply point with this ID.", "該当する供給地点はありません。"),
    "sp.invalid": ("Not a supply point ID", "供給地点特定番号ではありません"),
    "sp.matches": ("Matching supply points", "該当する供給地点"),
    "sp.load_curve": ("Load curve (half-hour values)", "負荷曲線(30分値)"),
    "sp.import": ("Import", "買電"),
    "sp.export": ("Export", "売電"),
    "sp.quality": ("Quality", "品質"),
    "sp.version": ("Versions", "版数"),
    "sp.reason": ("Reason", "理由"),
    "sp.slot": ("Slot (start)", "コマ(開始)"),
    "sp.register_reads": ("Register reads", "指示値"),
    "sp.boundary": ("At", "時刻"),
    "sp.import_register": ("Import register", "買電指示値"),
    "sp.export_register": ("Export register", "売電指示値"),
    "sp.received": ("First received", "初回受信"),
    "sp.delay": ("Delay", "遅延"),
    "sp.source": ("How", "取得方法"),
    "sp.meter": ("Meter", "メーター"),
    "sp.meter_id": ("Meter ID", "メーターID"),
    "sp.maker": ("Maker", "メーカー"),
    "sp.serial": ("Serial", "製造番号"),
    "sp.contract_amperage": ("Contract amperage", "契約アンペア"),
    "sp.retailer": ("Current retailer", "現在の小売電気事業者"),
    "sp.certification_expiry": ("Certification expiry", "検定有効期限"),
    "sp.installed_at": ("Installed", "設置日時"),
    "sp.no_meter": ("No meter installed.", "メーター未設置"),
    "sp.installations": ("Meters at this supply point", "この供給地点のメーター履歴"),
    "sp.removed_at": ("Removed", "撤去日時"),
    "sp.edited_by": ("by", "修正者"),
    "sp.no_reads": ("No register reads of this day arrived.", "この日の指示値は届いていません。"),
    "sp.none": ("none", "なし"),
    "sp.daily_total": ("Day total", "日合計"),
    "quality.measured": ("measured", "実測"),
    "quality.estimated": ("estimated", "推定"),
    "quality.missing": ("missing", "欠測"),
    "quality.edited": ("edited", "修正"),
    "quality.invalid": ("invalid", "異常"),
    "quality.not_yet_available": ("not yet available", "未到着"),
    "source.scheduled": ("scheduled", "定時"),
    "source.retry": ("retry", "再送"),
    "source.backfill": ("backfill", "補完"),
    "source.exchange": ("meter exchange", "メーター取替"),
    "source.bulk": ("bulk import", "一括取込"),
    "source.other": ("other", "その他"),
    "rollout.title": ("Rollout", "導入計画"),
    "rollout.plan": (
        "Deployment plans per fiscal year (meters)",
        "年度別 設置計画(台)",
    ),
    "rollout.plan_note": (
        "Plans of December 2014; fiscal years run April to March.",
        "2014年12月時点の計画。年度は4月〜翌3月。",
    ),
    "rollout.national": ("National plan per fiscal year", "全国の年度別設置計画"),
    "rollout.planned_total": ("Planned total", "計画合計"),
    "rollout.installed": ("Installed in openami", "openami 登録台数"),
    "rollout.fy": ("FY", "年度"),
    "rollout.total": ("Total", "合計"),
    "expiry.title": ("Meters approaching certification expiry", "検定有効期限が近いメーター"),
    "expiry.by_year": ("Installed meters by year of expiry", "有効期限年別のメーター数"),
    "expiry.within": ("expiring within", "期限まで"),
    "expiry.months": ("months", "か月以内"),
    "expiry.count": ("meters expire by", "台が次の日までに期限切れ:"),
    "expiry.none": (
        "No meter expires in this period.",
        "この期間に期限切れとなるメーターはありません。",
    ),
    "apply": ("Show", "表示"),
    "loading": ("Computing…", "集計中…"),
    "load_failed": (
        "Could not load this part; reload the page.",
        "読み込めませんでした。再読み込みしてください。",
    ),
    "api": ("API", "API"),
}


def pick_language(request: Request) -> str:
    """The language for this request (see the module docstring)."""
    wanted = request.query_params.get("lang")
    if wanted in LANGS:
        return wanted
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGS:
        return cookie
    accept = request.headers.get("accept-language", "").lower()
    return "ja" if accept.startswith("ja") else "en"


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)``: the label for ``key`` in ``lang``."""
    index = LANGS.index(lang) if lang in LANGS else 0

    def t(key: str) -> str:
        pair = MESSAGES.get(key)
        return pair[index] if pair else key

    return t
