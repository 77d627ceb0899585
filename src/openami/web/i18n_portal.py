"""The customer portal's labels (``/my/``), English and Japanese: merged into
:data:`openami.web.i18n.MESSAGES` (one translator for the dashboard and the portal)."""

from __future__ import annotations

PORTAL_MESSAGES: dict[str, tuple[str, str]] = {
    # -- customer portal (/my/) -------------------------------------------------------------
    "my.title": ("My electricity", "マイでんき"),
    "my.tagline": ("customer portal", "お客さまページ"),
    "my.skip": ("Skip to the content", "本文へ移動"),
    "my.nav.points": ("My supply points", "供給地点"),
    "my.nav.consents": ("Data sharing", "データ提供の同意"),
    "my.login.title": ("Customer login", "お客さまログイン"),
    "my.login.customer_id": ("Customer ID", "お客さま番号"),
    "my.login.failed": (
        "Wrong customer ID or password.",
        "お客さま番号またはパスワードが違います。",
    ),
    "my.login.locked": (
        "Too many failed logins: try again later.",
        "ログインの失敗が多すぎます。しばらくしてから再度お試しください。",
    ),
    "my.points.none": ("No supply point is registered to you.", "登録された供給地点はありません。"),
    "my.points.intro": (
        "Your supply points: open one to see its half-hour use.",
        "供給地点を選ぶと30分ごとの使用量をご覧いただけます。",
    ),
    "my.area": ("Area", "エリア"),
    "my.amperage": ("Contract amperage", "契約アンペア"),
    "my.load_curve": ("Electricity use", "電気の使用量"),
    "my.view.day": ("Day", "日"),
    "my.view.month": ("Month", "月"),
    "my.view.year": ("Year", "年"),
    "my.previous": ("Previous", "前へ"),
    "my.next": ("Next", "次へ"),
    "my.period": ("Period", "期間"),
    "my.no_data": ("No values for this period yet.", "この期間のデータはまだありません。"),
    "my.availability": (
        "Half-hour values appear about an hour after each half hour ends.",
        "30分ごとの値は、各30分が終わってから約1時間で表示されます。",
    ),
    "my.total_import": ("Electricity bought", "買電量"),
    "my.total_export": ("Electricity sold", "売電量"),
    "my.comparison": ("Comparison", "比較"),
    "my.cmp.previous": ("Previous period", "前の期間"),
    "my.cmp.last_year": ("Same period last year", "前年同期"),
    "my.cmp.change": ("Change", "増減"),
    "my.charges": ("Estimated charges", "料金の試算"),
    "my.charges.note": (
        "An estimate under the tariff named here, not your bill: your retailer bills you.",
        "ここに示す料金での試算であり、請求額ではありません。請求は小売電気事業者が行います。",
    ),
    "my.charges.basic": ("Basic charge", "基本料金"),
    "my.charges.day": ("Day-time energy", "昼間の電力量料金"),
    "my.charges.night": ("Night-time energy", "夜間の電力量料金"),
    "my.charges.levy": ("Renewable energy levy", "再エネ賦課金"),
    "my.charges.total": ("Total (tax included)", "合計（税込）"),
    "my.download": ("Download my data", "データのダウンロード"),
    "my.download.intro": (
        "Your half-hour values as a Green Button file (ESPI XML) or as CSV, up to 400 days.",
        "30分値をグリーンボタン形式（ESPI XML）またはCSVで、最大400日分ダウンロードできます。",
    ),
    "my.download.from": ("From", "開始日"),
    "my.download.to": ("To", "終了日"),
    "my.download.xml": ("Green Button (XML)", "グリーンボタン（XML）"),
    "my.download.csv": ("CSV", "CSV"),
    "my.consents.title": ("Who may see your data", "データ提供の同意"),
    "my.consents.none": ("You have not given or refused any consent.", "同意の記録はありません。"),
    "my.consents.intro": (
        "Services you allowed to read your data. New requests are decided on the page the "
        "service sends you to.",
        "お客さまのデータの提供に同意したサービスです。新しい依頼は、サービスから案内される"
        "画面で承認または拒否します。",
    ),
    "my.consents.purpose": ("Purpose", "利用目的"),
    "my.consents.period": ("Data period", "データの期間"),
    "my.consents.revoke": ("Revoke", "撤回する"),
    "my.consents.revoked": ("The consent was revoked.", "同意を撤回しました。"),
    "my.nav.broute": ("B route", "Bルート"),
    "my.broute.title": ("B-route service", "Bルートサービス"),
    "my.broute.intro": (
        "The B route lets your home energy management system (HEMS) read your smart meter "
        "directly. Apply here: the B-route ID and password are written to your meter and "
        "shown to you once.",
        "Bルートにより、HEMSがスマートメーターから直接データを取得できます。ここから申し込むと、"
        "認証ID・パスワードがメーターに設定され、一度だけ表示されます。",
    ),
    "my.broute.version": ("Credential version", "認証情報の版"),
    "my.broute.applied": ("Applied", "申込日時"),
    "my.broute.provisioned": ("Set in the meter", "メーター設定日時"),
    "my.broute.apply": ("Apply", "申し込む"),
    "my.broute.revoke": ("Stop the service", "利用を停止する"),
    "my.broute.rotate": ("New ID and password", "認証情報を再発行"),
    "my.broute.show": ("Show ID and password", "認証ID・パスワードを表示"),
    "my.broute.credentials": ("Your B-route ID and password", "Bルート認証ID・パスワード"),
    "my.broute.once": (
        "Write them down now: they are shown only once. Ask for a new pair if you lose them.",
        "今すぐ控えてください。表示は一度だけです。紛失した場合は再発行してください。",
    ),
    "my.broute.rbid": ("B-route ID", "認証ID"),
    "my.broute.password": ("Password", "パスワード"),
    "my.broute.done.applied": ("Application received.", "申込を受け付けました。"),
    "my.broute.done.revoked": ("The service was stopped.", "利用を停止しました。"),
    "my.broute.done.rotated": (
        "A new ID and password are being set.",
        "新しい認証情報を設定中です。",
    ),
    "my.broute.status.none": ("not applied", "未申込"),
    "my.broute.status.applied": ("applied", "申込済"),
    "my.broute.status.issued": ("issued, being set in the meter", "発行済（メーターに設定中）"),
    "my.broute.status.provisioned": ("ready", "利用可能"),
    "my.broute.status.notified": ("ready", "利用可能"),
    "my.broute.status.failed": ("failed", "失敗"),
    "my.broute.status.revoked": ("stopped", "停止"),
    "my.nav.dr": ("Demand response", "デマンドレスポンス"),
    "my.dr.title": ("Demand response events", "デマンドレスポンス（節電要請）"),
    "my.dr.intro": (
        "Events your home took part in: the baseline is your usual use for those half hours "
        "(the average of the 4 highest of the last 5 like days, adjusted to the day), the "
        "reduction is baseline minus actual use.",
        "ご家庭が参加したイベントです。ベースラインは、その時間帯の通常の使用量（直近5日のうち"
        "多い4日の平均を当日の状況で補正）で、削減量はベースラインと実績の差です。",
    ),
    "my.dr.none": ("Your home took part in no event yet.", "参加したイベントはまだありません。"),
    "my.dr.when": ("When (JST)", "日時"),
    "my.dr.signal": ("Request", "要請"),
    "my.dr.signal.level": ("level", "レベル"),
    "my.dr.signal.target_w": ("target [W]", "目標 [W]"),
    "my.dr.signal.price": ("price [yen/kWh]", "価格 [円/kWh]"),
    "my.dr.opt": ("Your answer", "回答"),
    "my.dr.opt.optIn": ("took part", "参加"),
    "my.dr.opt.optOut": ("declined", "不参加"),
    "my.dr.opt.none": ("no answer", "回答なし"),
    "my.dr.baseline": ("Baseline", "ベースライン"),
    "my.dr.actual": ("Actual", "実績"),
    "my.dr.reduction": ("Reduction", "削減量"),
    "my.dr.units": ("Per half hour", "30分ごと"),
    "my.dr.status": ("Settlement", "精算"),
    "my.dr.status.ok": ("settled", "精算済"),
    "my.dr.status.insufficient_days": (
        "not enough past days for a baseline",
        "ベースラインに必要な過去の日数が不足",
    ),
    "my.dr.status.no_adjustment_data": (
        "no values for the same-day adjustment",
        "当日補正に必要なデータなし",
    ),
    "my.dr.status.missing_actual": ("actual use not complete", "実績が未確定"),
    "my.not_found": ("Supply point not found", "供給地点が見つかりません"),
    "my.not_found.text": (
        "This is not one of your supply points.",
        "お客さまの供給地点ではありません。",
    ),
}
