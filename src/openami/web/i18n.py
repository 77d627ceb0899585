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
    "nav.croute": ("C route", "Cルート"),
    "lang.switch": ("日本語", "English"),
    "nav.operators": ("Operators", "オペレーター"),
    "nav.switching": ("Switching", "遠隔開閉"),
    "switching.title": ("Remote switching", "遠隔開閉"),
    "switching.running": ("Remote switching runs.", "遠隔開閉は稼働中です。"),
    "switching.halted": ("ALL REMOTE SWITCHING IS HALTED", "全遠隔開閉を停止中"),
    "switching.halt": ("Emergency stop", "緊急停止"),
    "switching.resume": ("Resume switching", "開閉を再開"),
    "switching.reason": ("Reason", "理由"),
    "switching.held": ("Held requests", "保留中の依頼"),
    "switching.none_held": ("No request is held.", "保留中の依頼はありません。"),
    "switching.approve": ("Approve", "承認"),
    "switching.approvals": ("Approved by", "承認者"),
    "switching.requested_by": ("Requested by", "依頼者"),
    "switching.alerts": ("Cap alerts so far", "上限超過アラート数"),
    "switching.approved": ("Approval recorded.", "承認を記録しました。"),
    "switching.halted_msg": ("Remote switching halted.", "遠隔開閉を停止しました。"),
    "switching.resumed": ("Remote switching resumed.", "遠隔開閉を再開しました。"),
    "login.title": ("Operator login", "オペレーターログイン"),
    "login.name": ("Name", "ユーザー名"),
    "login.password": ("Password", "パスワード"),
    "login.submit": ("Log in", "ログイン"),
    "login.failed": ("Wrong name or password.", "ユーザー名またはパスワードが違います。"),
    "login.locked": (
        "Too many failed logins: try again later.",
        "ログインの失敗が多すぎます。しばらくしてから再度お試しください。",
    ),
    "logout": ("Log out", "ログアウト"),
    "role.viewer": ("viewer", "閲覧者"),
    "role.operator": ("operator", "オペレーター"),
    "role.approver": ("approver", "承認者"),
    "role.admin": ("admin", "管理者"),
    "operators.title": ("Operator accounts", "オペレーターアカウント"),
    "operators.add": ("Add an operator", "オペレーターを追加"),
    "operators.role": ("Role", "権限"),
    "operators.created": ("Created", "作成日時"),
    "operators.disabled": ("disabled", "無効"),
    "operators.added": ("Operator added.", "オペレーターを追加しました。"),
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
    "quality.profiled": ("profiled", "プロファイリング"),
    "quality.not_yet_available": ("not yet available", "未到着"),
    "source.scheduled": ("scheduled", "定時"),
    "source.retry": ("retry", "再送"),
    "source.backfill": ("backfill", "補完"),
    "source.exchange": ("meter exchange", "メーター取替"),
    "source.bulk": ("bulk import", "一括取込"),
    "source.unknown": ("unknown", "不明"),
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
    # C-route page
    "croute.title": (
        "C route: delivery to retailers and third parties",
        "Cルート:小売・第三者への提供",
    ),
    "croute.slo": ("Delivery SLO per slot", "コマ別の提供SLO"),
    "croute.slo_help": (
        "Latency from slot end until the first measured value was available on the C route "
        "(p50, p95), against the 60-minute target; completeness = share of expected supply "
        "points with a measured value at slot end + 60 min, + 24 h, and now (at final once "
        "the period is final).",
        "コマ終了から最初の実測値がCルートで提供可能になるまでの遅延(p50・p95)と60分目標。"
        "完全性=期待される供給地点のうち、コマ終了+60分・+24時間・現在(確定後は確定時点)に"
        "実測値がある割合。",
    ),
    "croute.slo_none": ("No values for this day.", "この日の値はありません。"),
    "croute.latency": ("Delivery latency per slot", "コマ別の提供遅延"),
    "croute.p50": ("p50 latency", "遅延 p50"),
    "croute.p95": ("p95 latency", "遅延 p95"),
    "croute.max": ("max latency", "遅延 最大"),
    "croute.meeting_target": ("Slots with p95 within target", "p95が目標以内のコマ"),
    "croute.worst_p95": ("worst p95", "最悪p95"),
    "croute.expected": ("Expected", "対象地点数"),
    "croute.complete_60min": ("Complete +60 min", "+60分完全性"),
    "croute.complete_24h": ("Complete +24 h", "+24時間完全性"),
    "croute.complete_final": ("Complete now / final", "現在/確定時完全性"),
    "croute.final": ("Final", "確定"),
    "croute.yes": ("yes", "済"),
    "croute.no": ("no", "未"),
    "croute.requests": ("Retailer requests (all time)", "小売電気事業者の申請(全期間)"),
    "croute.requests_none": ("No retailer requests yet.", "申請はまだありません。"),
    "croute.latest_requests": ("Latest requests", "最近の申請"),
    "croute.kind": ("Kind", "種別"),
    "croute.status": ("Status", "状態"),
    "croute.request_id": ("Request", "申請ID"),
    "croute.retailer": ("Retailer", "小売電気事業者"),
    "croute.effective_date": ("Effective", "適用日"),
    "croute.received_at": ("Received", "受付日時"),
    "croute.updated_at": ("Updated", "更新日時"),
    "croute.error": ("Error", "エラー"),
    "croute.consents": ("Consents (all time)", "同意(全期間)"),
    "croute.consents_none": ("No consents yet.", "同意はまだありません。"),
    "croute.latest_consents": ("Latest consents", "最近の同意"),
    "croute.consent_id": ("Consent", "同意ID"),
    "croute.recipient": ("Recipient", "提供先"),
    "croute.data_kinds": ("Data kinds", "データ種別"),
    "croute.supply_points": ("Supply points", "供給地点数"),
    "croute.created_at": ("Created", "作成日時"),
    "croute.expires_at": ("Expires", "有効期限"),
    "croute.webhooks": ("Webhook deliveries (all time)", "Webhook配信(全期間)"),
    "croute.subscriptions": ("Active subscriptions", "有効な購読"),
    "croute.deliveries_none": ("No webhook deliveries yet.", "Webhook配信はまだありません。"),
    "croute.latest_deliveries": ("Latest deliveries", "最近の配信"),
    "croute.delivery_id": ("Delivery", "配信ID"),
    "croute.subscription": ("Subscription", "購読ID"),
    "croute.client": ("Client", "クライアント"),
    "croute.attempts": ("Attempts", "試行回数"),
    "croute.delivered_at": ("Delivered", "配信日時"),
    "croute.last_http": ("Last HTTP", "直近HTTP"),
    "croute.last_error": ("Last error", "直近エラー"),
    "rq.kind.switch_start": ("switching start", "スイッチング開始"),
    "rq.kind.reconnect": ("reconnect", "再点"),
    "rq.kind.disconnect": ("disconnect", "廃止"),
    "rq.kind.ampere_change": ("ampere change", "アンペア変更"),
    "rq.status.received": ("received", "受付"),
    "rq.status.accepted": ("accepted", "承認"),
    "rq.status.scheduled": ("scheduled", "実行中"),
    "rq.status.completed": ("completed", "完了"),
    "rq.status.failed": ("failed", "失敗"),
    "rq.status.rejected": ("rejected", "却下"),
    "rq.status.cancelled": ("cancelled", "取消"),
    "consent.status.requested": ("requested", "申請中"),
    "consent.status.active": ("active", "有効"),
    "consent.status.denied": ("denied", "拒否"),
    "consent.status.revoked": ("revoked", "撤回"),
    "consent.status.expired": ("expired", "期限切れ"),
    "wh.state.pending": ("pending", "再送待ち"),
    "wh.state.delivered": ("delivered", "配信済"),
    "wh.state.failed": ("failed", "失敗"),
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
