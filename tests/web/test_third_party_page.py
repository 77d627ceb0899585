"""The dashboard's third-party meters page over real HTTP: duty alerts, meters per type,
the responsibility matrix and the type-approval register, for logged-in operators only."""

from __future__ import annotations

from datetime import date, datetime

from tests.hub.hubrig import hub_rig
from tests.web.conftest import operator_client

from openami.clock import JST
from openami.hub.third_party_services import third_party_meters
from openami.registry import Meter
from openami.storage.repositories.third_party import TypeApproval


def test_the_page_shows_alerts_types_matrix_and_approvals() -> None:
    with hub_rig() as rig:
        registry = rig.context.registry
        keys = registry.add_supply_points(["0300000000000000000001"])
        registry.add_meters(
            [
                Meter(1, "M", "S1", 30, "cellular", None, date(2026, 11, 20)),
                Meter(2, "M", "S2", 30, "mesh", None, date(2036, 1, 1)),
            ]
        )
        registry.install_meters([(keys[0], 1)], 0.0)
        service = third_party_meters(rig.context)
        service.register_operator_meter(1, "MO-ONE", date(2026, 1, 1))
        service.approve(TypeApproval("TA-77", "Acme", "MP-9", "1.0", date(2026, 1, 1)))
        service.install_metering_part(2, "TP1", "Acme", "MP-9", date(2026, 2, 1))
        rig.clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=JST))
        base = str(rig.http.base_url)
        assert rig.http.get("/third-party", follow_redirects=False).status_code in (302, 303, 401)
        with operator_client(base, "op", "op-password-for-tests") as client:
            page = client.get("/third-party")
            assert page.status_code == 200, page.text[:300]
            html = page.text
            assert "W_EXPIRY_DUE" in html and "MO-ONE" in html
            assert "TA-77" in html and "MP-9" in html
            assert 'id="matrix-table"' in html and "Expiry management" in html
            assert "never" in html  # i-2 never enters billing and settlement
            quiet = client.get("/third-party", params={"horizon": 10})
            assert 'id="alerts-none"' in quiet.text
            ja = client.get("/third-party", params={"lang": "ja"})
            assert "検満管理" in ja.text
