"""The request/response rules of ECHONET Lite services, over :class:`DeviceObject` tables.

Pure: a decoded request frame plus the node's objects in, reply frames out.

- The reply keeps the TID, swaps SEOJ/DEOJ and echoes every EPC in request order.
- Get → Get_Res, or Get_SNA when any property fails (failed ones with PDC 0).
- SetC → Set_Res (each EPC with PDC 0), or SetC_SNA echoing rejected EPCs with their EDT.
- SetI → nothing, or SetI_SNA like SetC_SNA.
- INF_REQ → INF with the values, or INF_SNA (failed ones with PDC 0).
- SetGet → SetGet_Res / SetGet_SNA with both blocks (Set block first).
- INFC → INFC_Res echoing each EPC with PDC 0.
- A DEOJ that names no object of the node (instance 0x00 = every instance of the class)
  and every response/notification ESV get no reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from openami.protocols.echonet.frame import (
    RES_FOR_REQUEST,
    SNA_FOR_REQUEST,
    Esv,
    Frame,
    Property,
    eoj_class,
    eoj_instance,
)
from openami.protocols.echonet.objects import DeviceObject


def target_objects(deoj: int, objects: Sequence[DeviceObject]) -> list[DeviceObject]:
    """Objects addressed by ``deoj``; instance code 0x00 selects every instance of the class."""
    if eoj_instance(deoj) == 0:
        cls = eoj_class(deoj)
        return [o for o in objects if eoj_class(o.eoj) == cls]
    return [o for o in objects if o.eoj == deoj]


def _limit(index: int, max_opc: int | None) -> bool:
    return max_opc is not None and index >= max_opc


def _get_block(
    obj: DeviceObject, props: tuple[Property, ...], max_opc: int | None, *, notify: bool
) -> tuple[tuple[Property, ...], bool]:
    out: list[Property] = []
    ok = True
    for i, prop in enumerate(props):
        value = None
        if not _limit(i, max_opc):
            value = obj.notify_value(prop.epc) if notify else obj.get(prop.epc)
        if value is None:
            ok = False
            out.append(Property(prop.epc))
        else:
            out.append(Property(prop.epc, value))
    return tuple(out), ok


def _set_block(
    obj: DeviceObject, props: tuple[Property, ...], max_opc: int | None
) -> tuple[tuple[Property, ...], bool]:
    out: list[Property] = []
    ok = True
    for i, prop in enumerate(props):
        accepted = bool(prop.edt) and not _limit(i, max_opc) and obj.set(prop.epc, prop.edt)
        if accepted:
            out.append(Property(prop.epc))
        else:
            ok = False
            out.append(prop)
    return tuple(out), ok


def _reply_one(frame: Frame, obj: DeviceObject, max_opc: int | None) -> Frame | None:
    esv = frame.esv
    get_props: tuple[Property, ...] = ()
    if esv == Esv.INFC:
        echoed = tuple(Property(p.epc) for p in frame.properties)
        return Frame(frame.tid, obj.eoj, frame.seoj, Esv.INFC_RES, echoed)
    if esv in (Esv.GET, Esv.INF_REQ):
        props, ok = _get_block(obj, frame.properties, max_opc, notify=esv == Esv.INF_REQ)
    elif esv in (Esv.SETC, Esv.SETI):
        props, ok = _set_block(obj, frame.properties, max_opc)
    elif esv == Esv.SETGET:
        props, set_ok = _set_block(obj, frame.properties, max_opc)
        get_props, get_ok = _get_block(obj, frame.get_properties, max_opc, notify=False)
        ok = set_ok and get_ok
    else:
        return None
    if not frame.properties and not frame.get_properties:
        ok = False  # a request naming no property cannot be served
    if ok and esv == Esv.SETI:
        return None
    reply_esv = RES_FOR_REQUEST[Esv(esv)] if ok else SNA_FOR_REQUEST[Esv(esv)]
    return Frame(frame.tid, obj.eoj, frame.seoj, reply_esv, props, get_props)


def handle_request(
    frame: Frame, objects: Sequence[DeviceObject], *, max_opc: int | None = None
) -> list[Frame]:
    """Replies due for ``frame`` (one per addressed object; empty when none is due).

    ``max_opc`` emulates a node that serves only that many properties per block: the
    rest are answered as failed (PDC 0) in an SNA reply.
    """
    if frame.esv not in (Esv.GET, Esv.INF_REQ, Esv.SETC, Esv.SETI, Esv.SETGET, Esv.INFC):
        return []
    replies: list[Frame] = []
    for obj in target_objects(frame.deoj, objects):
        reply = _reply_one(frame, obj, max_opc)
        if reply is not None:
            replies.append(reply)
    return replies
