"""Retail operations among the retailer requests (issue #16 §1): suspension (供給停止) and
its lifting (停止解除), on-demand reading (随時検針), move-in and move-out (入居・退去) and
contract changes (amperage, the contract kW of a high-voltage point, or a supply plan's
time-of-use bands).

They share the state machine of :mod:`openami.hub.requests` (received → accepted or
rejected → on the effective date scheduled, or held by the switching caps → completed or
failed); this module holds what differs per kind: the checks at intake
(:func:`decide_retail`), the HES command each becomes on its day (:func:`command_of`),
and what a concluded command leaves in the request's result (:func:`reading_result`,
:func:`failure_of`).

- ``suspend``: the supplier opens the switch on a day at least ``suspend_notice_s`` ahead
  (the customer's notice); the supply contract stays. A DISCONNECT.
- ``resume``: the supplier closes the switch of a point it suspended, the same day or later.
  A RECONNECT. Without a suspension in force: ``E_NOT_SUSPENDED``.
- ``on_demand_read``: the supplier asks for the registers now (or on a later day); a READ
  with a short timeout (``ON_DEMAND_TIMEOUT_S``); fails with ``E_METER_UNREACHABLE`` (no
  answer) or ``E_METER_TIMEOUT`` (an answer after the deadline).
- ``move_out``: the supplier ends its contract from a day; the switch opens (a DISCONNECT,
  or only a READ if it is open already). Notice as for a disconnect, unless the customer's
  authorisation for that day is quoted (the customer's own move-out).
- ``move_in``: a retailer starts a contract at an unsupplied point with the new customer's
  authorisation; the switch closes if open (a RECONNECT, else a READ).
- ``contract_change``: exactly one of ``amperage_a`` (SET_AMPERAGE, as ``ampere_change``),
  ``contract_kw`` (no command: stored effective-dated when its day begins) or
  ``supply_plan`` (SET_TARIFF: the plan's time-of-use bands pushed and read back).

Every completed read, move and switching returns the registers read back (import and export
[Wh], the instant and the meter's own clock) in the request's ``result``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

from openami.bus.messages import CONTRACT_AMPERAGES_A, SUPPLY_PLANS, CommandKind, CommandState
from openami.clock import JST
from openami.hub.context import HubContext
from openami.hub.ports import CommandPort
from openami.hub.switching import SwitchingControl
from openami.hub.switching_errors import Rejected
from openami.registry import RegistryError
from openami.registry.model import SupplyPoint
from openami.storage.repositories.contract_demand import ContractDemandStore
from openami.storage.repositories.requests import RequestRow, RequestStore
from openami.storage.repositories.webhooks import WebhookStore

log = structlog.get_logger(__name__)

RETAIL_KINDS = ("suspend", "resume", "on_demand_read", "move_in", "move_out", "contract_change")
ON_DEMAND_TIMEOUT_S = 900.0  # 随時検針 answers within minutes, or fails
MIN_CONTRACT_KW = 50.0  # 高圧: 50 kW and above …
MAX_CONTRACT_KW = 2000.0  # … below 2,000 kW (特別高圧 above)
CONCLUDED_EVENT = "retailer_request.concluded"
CHANGES = ("amperage_a", "contract_kw", "supply_plan")  # what a contract_change changes
_IN_FORCE = ("accepted", "held", "scheduled", "completed")
# a suspension lasts until one of these takes effect after it (a supplier change, a move)
_SUSPENSION_KINDS = (
    "suspend",
    "resume",
    "move_in",
    "move_out",
    "switch_start",
    "reconnect",
    "disconnect",
)
_READING_KINDS = ("switch_start", "on_demand_read", "move_in", "move_out", "suspend", "resume")


@dataclass(frozen=True)
class Intake:
    """A retail request being decided: who files it, for which point and day."""

    row: RequestRow
    retailer_id: str
    sp: SupplyPoint | None
    day: date
    authorisation_id: str | None
    detail: dict[str, Any]


def parse_detail(row: RequestRow) -> dict[str, Any]:
    """The request's kind-specific input, with its amperage (a column of its own)."""
    value = json.loads(row.detail) if row.detail else {}
    out = value if isinstance(value, dict) else {}
    return out | ({} if row.amperage_a is None else {"amperage_a": row.amperage_a})


def decide_retail(
    ctx: HubContext,
    control: SwitchingControl,
    store: RequestStore,
    port: CommandPort | None,
    req: Intake,
) -> tuple[int, dict[str, list[str | None]]]:
    """Check a retail request; apply its registry change. Returns the supply point key and
    how to take the change back; raises :class:`Rejected`."""
    kind, me, day = req.row.kind, req.retailer_id, req.day
    if req.sp is None:  # unknown points are answered as someone else's (no enumeration)
        if kind == "move_in":
            raise Rejected("E_NO_AUTHORISATION", "a move-in quotes the customer's authorisation")
        raise Rejected("E_NOT_SUPPLIER", f"{me} does not supply it on {day}")
    key = req.sp.supply_point_key
    supplier = ctx.registry.retailer_on(key, day)
    if kind != "move_in" and supplier != me:
        raise Rejected("E_NOT_SUPPLIER", f"{me} does not supply it on {day}")
    _check_timing(control, req, key)
    if kind == "contract_change":
        _check_contract_change(req.detail)
        _check_high_voltage(ctx, req.detail, key)
    if store.open_for_supply_point(key):
        raise Rejected(
            "E_CONFLICTING_REQUEST",
            f"another request for supply point {req.row.supply_point_id} is still open",
        )
    meter = ctx.registry.current_meter(key)
    if meter is None:
        raise Rejected("E_NO_METER", "no meter is installed at the supply point")
    if kind == "suspend":
        if suspended(store, key, day):
            raise Rejected("E_ALREADY_SUSPENDED", "the supply point is suspended already")
        if port is not None and port.switch_connected(meter) is False:
            raise Rejected("E_ALREADY_DISCONNECTED", "the meter's switch is open")
    elif kind == "resume" and not suspended(store, key, day):
        raise Rejected("E_NOT_SUSPENDED", f"no suspension of the supply point is in force on {day}")
    elif (
        kind == "contract_change"
        and port is not None
        and port.contract_amperage_a(meter) == req.detail.get("amperage_a", -1)
    ):
        raise Rejected("E_AMPERAGE_UNCHANGED", "the contract has that amperage already")
    return key, _contract_change(ctx, control, req, key, supplier)


def _check_timing(control: SwitchingControl, req: Intake, key: int) -> None:
    now_s = control.context.clock.timestamp()
    cfg = control.config
    if req.row.kind == "suspend":
        control.check_lead(req.day, now_s, cfg.suspend_notice_s, "suspend")
    elif req.row.kind == "move_out":
        if req.authorisation_id:  # the customer's own move-out: no notice
            control.check_authorisation(req.authorisation_id, req.retailer_id, key, req.day)
        else:
            control.check_lead(req.day, now_s, cfg.disconnect_notice_s, "disconnect")


def _check_contract_change(detail: dict[str, Any]) -> None:
    changes = [k for k in CHANGES if detail.get(k) is not None]
    if not changes:
        raise Rejected("E_CHANGE_REQUIRED", f"contract_change needs one of {', '.join(CHANGES)}")
    if len(changes) > 1:
        raise Rejected("E_ONE_CHANGE_PER_REQUEST", f"change one of {', '.join(CHANGES)}")
    plan = detail.get("supply_plan")
    if plan is not None and plan not in SUPPLY_PLANS:
        raise Rejected(
            "E_UNKNOWN_SUPPLY_PLAN", f"supply plan must be one of {', '.join(SUPPLY_PLANS)}"
        )
    amps = detail.get("amperage_a")
    if amps is not None and amps not in CONTRACT_AMPERAGES_A:
        raise Rejected(
            "E_UNSUPPORTED_AMPERAGE",
            f"contract amperage must be one of {', '.join(map(str, CONTRACT_AMPERAGES_A))} A",
        )
    kw = detail.get("contract_kw")
    if kw is not None and not (
        isinstance(kw, int | float)
        and math.isfinite(kw)
        and MIN_CONTRACT_KW <= kw < MAX_CONTRACT_KW
        and float(kw).is_integer()
    ):
        raise Rejected(
            "E_INVALID_CONTRACT_KW",
            f"contract kW is a whole number from {MIN_CONTRACT_KW:.0f} to below "
            f"{MAX_CONTRACT_KW:.0f} (high voltage)",
        )


def _check_high_voltage(ctx: HubContext, detail: dict[str, Any], key: int) -> None:
    """A contract kW belongs to a high-voltage point (the registry's voltage class)."""
    if detail.get("contract_kw") is None:
        return
    classes = ctx.registry.kinds.point_classes([key])
    if classes.column("voltage_class")[0].as_py() == "low":
        raise Rejected(
            "E_NOT_HIGH_VOLTAGE",
            "a contract kW is agreed for high-voltage points only; this point is low voltage",
        )


def _contract_change(
    ctx: HubContext, control: SwitchingControl, req: Intake, key: int, supplier: str | None
) -> dict[str, list[str | None]]:
    """Start or end the supply contract (move-in, move-out); the undo record."""
    me, day = req.retailer_id, req.day
    try:
        if req.row.kind == "move_out":
            ended = ctx.registry.contract_end(key, me, day)
            ctx.registry.end_supply_contract(key, me, day)
            undo = {"ended": [me, day.isoformat(), ended.isoformat() if ended else None]}
            if req.authorisation_id:  # used up once accepted
                undo["authorised"] = [req.authorisation_id]
            return undo
        if req.row.kind == "move_in":
            if supplier == me:
                raise Rejected("E_ALREADY_SUPPLIER", f"{me} supplies it on {day} already")
            if supplier is not None:
                raise Rejected("E_SUPPLIED_BY_OTHER", f"another retailer supplies it on {day}")
            control.check_authorisation(req.authorisation_id, me, key, day)
            ctx.registry.start_supply_contract(key, me, day)
            return {"started": [me, day.isoformat()], "authorised": [req.authorisation_id]}
    except RegistryError as exc:
        raise Rejected("E_CONFLICTING_CONTRACT", str(exc)) from None
    return {}


def suspended(store: RequestStore, supply_point_key: int, day: date) -> bool:
    """Whether a suspension of the point is in force on ``day``: of its suspends, resumes,
    moves, switches, reconnects and disconnects not rejected, cancelled or failed, the one
    effective last by then is a suspend."""
    last = store.latest_of_kinds(
        supply_point_key, _SUSPENSION_KINDS, _IN_FORCE, on_or_before=day.isoformat()
    )
    return last is not None and last.kind == "suspend"


def is_remote(row: RequestRow) -> bool:
    """Whether the request operates the meter remotely (caps, approvals, signature)."""
    if row.kind == "contract_change":
        return row.amperage_a is not None
    return row.kind in ("suspend", "resume", "move_in", "move_out")


def command_of(row: RequestRow, port: CommandPort, meter_id: int) -> CommandKind | None:
    """The HES command a due retail request becomes (None: it needs none)."""
    kind = row.kind
    if kind == "suspend":
        return CommandKind.DISCONNECT
    if kind == "resume":
        return CommandKind.RECONNECT
    if kind == "on_demand_read":
        return CommandKind.READ
    if kind == "move_out":  # open the switch, or just read it when open already
        return (
            CommandKind.READ if port.switch_connected(meter_id) is False else CommandKind.DISCONNECT
        )
    if kind == "move_in":
        return (
            CommandKind.READ if port.switch_connected(meter_id) is True else CommandKind.RECONNECT
        )
    if row.amperage_a is not None:
        return CommandKind.SET_AMPERAGE
    if parse_detail(row).get("supply_plan") is not None:
        return CommandKind.SET_TARIFF
    return None


def argument_of(row: RequestRow) -> int:
    """The command's argument: the amperage [A], or the supply plan's code."""
    plan = parse_detail(row).get("supply_plan") if row.kind == "contract_change" else None
    return SUPPLY_PLANS.index(plan) + 1 if plan in SUPPLY_PLANS else int(row.amperage_a or 0)


def store_contract_kw(ctx: HubContext, row: RequestRow, now_s: float) -> dict[str, Any]:
    """Store the contract kW of a due ``contract_change`` from its day on; its result."""
    kw = float(parse_detail(row)["contract_kw"])
    day = date.fromisoformat(row.effective_date)
    ContractDemandStore(ctx.clients.database).set(
        int(row.supply_point_key or 0), day, kw, row.request_id, now_s
    )
    return {"contract_kw": kw, "from": day.isoformat()}


def timeout_of(row: RequestRow) -> float | None:
    return ON_DEMAND_TIMEOUT_S if row.kind == "on_demand_read" else None


def reading_result(
    row: RequestRow, import_wh: int, export_wh: int, at_s: float, clock_offset_s: float
) -> dict[str, Any] | None:
    """The registers a confirmed command read back, as a request's result (None: the kind
    returns none, or nothing was read)."""
    plan = parse_detail(row).get("supply_plan") if row.kind == "contract_change" else None
    if plan is not None:  # the meter read back the plan's bands
        return {"supply_plan": plan}
    if row.kind not in _READING_KINDS or import_wh < 0:
        return None
    offset = 0.0 if not math.isfinite(clock_offset_s) else clock_offset_s
    return {
        "import_register_wh": int(import_wh),
        "export_register_wh": int(export_wh),
        "read_at": _iso(at_s),
        "meter_time": _iso(at_s + offset),
    }


def failure_of(row: RequestRow, state: int, import_wh: int) -> tuple[str, str]:
    """Error code and message of a request whose command did not confirm."""
    if state == CommandState.TIMED_OUT:
        if row.kind == "on_demand_read" and import_wh < 0:
            return "E_METER_UNREACHABLE", "the meter did not answer before the deadline"
        return "E_METER_TIMEOUT", "no read-back within the timeout"
    return "E_READBACK_MISMATCH", "the meter reads back another state"


def refused(reason: str) -> tuple[str, str]:
    """Error code and message of a request whose command the HES refused (``reason``: a
    refusal code, e.g. ``fleet_cap``), whichever command port it went through."""
    return "E_COMMAND_REFUSED", f"the HES refused the command: {reason}"


def notify_concluded(ctx: HubContext, row: RequestRow, status: str, code: str | None) -> int:
    """Queue ``retailer_request.concluded`` to the filing retailer's webhook subscriptions
    (no supply point ID or reading in the body: the subscriber pulls the request)."""
    store = WebhookStore(ctx.clients.database)
    subs = store.subscribed_retailers().get(row.retailer_id, [])
    body = {
        "event": CONCLUDED_EVENT,
        "request_id": row.request_id,
        "kind": row.kind,
        "status": status,
        "error_code": code,
        "request": f"/v1/retailer-requests/{row.request_id}",
    }
    rows = [
        (s.subscription_id, json.dumps({**body, "subscription_id": s.subscription_id}).encode())
        for s in subs
    ]
    if rows:
        store.enqueue(rows, ctx.clock.timestamp())
    log.info("retailer_request.concluded", request_id=row.request_id, status=status, code=code)
    return len(rows)


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, JST).isoformat()
