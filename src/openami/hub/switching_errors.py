"""Refusals of retailer requests and switching controls: explicit codes, HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass

ERROR_STATUS = {
    "E_NOT_RETAILER": 403,
    "E_NOT_SUPPLIER": 403,
    "E_UNKNOWN_SUPPLY_POINT": 404,
    "E_INVALID_SUPPLY_POINT": 422,
    "E_UNKNOWN_KIND": 422,
    "E_DATE_IN_PAST": 422,
    "E_DATE_TOO_FAR": 422,
    "E_AMPERAGE_REQUIRED": 422,
    "E_UNSUPPORTED_AMPERAGE": 422,
    "E_CONFLICTING_REQUEST": 409,
    "E_CONFLICTING_CONTRACT": 409,
    "E_ALREADY_SUPPLIER": 409,
    "E_SUPPLIED_BY_OTHER": 409,
    "E_NOT_CONNECTED": 409,
    "E_ALREADY_CONNECTED": 409,
    "E_ALREADY_DISCONNECTED": 409,
    "E_AMPERAGE_UNCHANGED": 409,
    "E_NO_METER": 409,
    # switching safety (issue #15 §1)
    "E_NO_AUTHORISATION": 403,
    "E_EFFECTIVE_TOO_SOON": 422,
    "E_NOTICE_TOO_SHORT": 422,
    "E_OBJECTED": 409,
    "E_OBJECTION_CLOSED": 409,
    "E_NOT_LOSING_RETAILER": 404,
    "E_UNKNOWN_REQUEST": 404,
    "E_NOT_CANCELLABLE": 409,
    "E_NOT_HELD": 409,
    "E_NOT_APPROVER": 403,
    "E_OWN_REQUEST": 403,
    "E_ALREADY_APPROVED": 409,
    "E_NOT_OPERATOR": 403,
    "E_COMMAND_REFUSED": 409,
    "E_CAP_HIT": 409,
    "E_UNKNOWN_RETAILER": 422,
    "E_NOT_CUSTOMERS_POINT": 403,
    # retail operations (issue #16 §1)
    "E_ALREADY_SUSPENDED": 409,
    "E_NOT_SUSPENDED": 409,
    "E_CHANGE_REQUIRED": 422,
    "E_ONE_CHANGE_PER_REQUEST": 422,
    "E_INVALID_CONTRACT_KW": 422,
    "E_NOT_HIGH_VOLTAGE": 422,
    "E_UNKNOWN_SUPPLY_PLAN": 422,
    "E_METER_UNREACHABLE": 409,
    "E_METER_TIMEOUT": 409,
}


@dataclass
class Rejected(Exception):
    code: str
    message: str
    request_id: str | None = None

    @property
    def http_status(self) -> int:
        return ERROR_STATUS.get(self.code, 409)
