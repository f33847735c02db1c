"""The chat: answer from the knowledge base, turn a report into a complaint, tell a status.

A conversation is a row with a state:

- ``chat``: a message that reports a problem ("가로등이 꺼졌어요", "the drain is blocked")
  starts a complaint; one that names a complaint number ("민원 12번 어떻게 됐어요?", "status of
  #12") gets its status; anything else is answered from the knowledge base, or handed off.
- ``report``: the bot collects the category (guessed from the words of the report, else
  asked), the location (``lat``/``lon`` sent with a message, or an address typed) and an
  optional photo URL; when it has them the complaint is created (Open311) and its number and
  token are given. "취소" / "cancel" drops the draft.
- ``handoff``: no answer was good enough; staff see the transcript
  (``GET /api/v1/civic/conversations/{id}``). A later question is answered again by the bot.

Every message is stored with personal data masked. Nothing is half-stored: a message that
fails validation changes nothing.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from urbanops.domains.civic import complaints
from urbanops.domains.civic.retrieve import Retriever
from urbanops.domains.civic.services import Service
from urbanops.domains.civic.tables import civic_conversations, civic_messages
from urbanops.domains.civic.text import language, mask_personal_data, normalise
from urbanops.errors import NotFoundError, PayloadTooLargeError, ValidationError

MAX_MESSAGE_CHARS = 2000
_REPORT = re.compile(
    r"신고|고장|파손|막혔|막혀|넘쳐|꺼졌|꺼져|구멍|깨졌|부서|무단투기|버려져|방치|침수|잠겼|"
    r"\b(?:report|broken|blocked|pothole|not working|flooded|dumped|abandoned|out of order|"
    r"leaking|damaged)\b",
    re.IGNORECASE,
)
_QUESTION_ONLY = re.compile(r"어떻게|방법|어디서|how (?:do|can|to)|where (?:do|can)", re.IGNORECASE)
_STATUS = re.compile(
    r"(?:민원|신고|접수|request|complaint|case|report)\s*(?:번호|number|no\.?)?\s*#?\s*(\d{1,9})|#(\d{1,9})",
    re.IGNORECASE,
)
_CANCEL = re.compile(r"^\s*(?:취소|그만|cancel|stop)\s*[.!]?\s*$", re.IGNORECASE)

_TEXT = {
    "ko": {
        "ask_service": "어떤 종류의 불편인가요? 다음 중 하나를 골라 주세요: {options}",
        "ask_location": "위치를 알려 주세요. 주소를 입력하거나 지도에서 위치를 보내 주세요.",
        "created": "민원이 접수되었습니다. 접수번호 {id}, 담당: {dept}, 처리 예정: {due}. "
        "이 번호로 진행 상황을 물어보실 수 있습니다.",
        "cancelled": "신고 작성을 취소했습니다.",
        "handoff": "정확한 답을 찾지 못했습니다. 담당 직원에게 대화 내용을 전달했으니 "
        "곧 답변드리겠습니다.",
        "status": "민원 {id}({service})은 현재 '{status}' 상태입니다.{notes}",
        "no_request": "민원 {id}번을 찾을 수 없습니다.",
        "statuses": {
            "received": "접수",
            "assigned": "담당 부서 배정",
            "in_progress": "처리 중",
            "resolved": "처리 완료",
            "closed": "종결",
            "duplicate": "중복 민원으로 병합",
            "rejected": "반려",
        },
    },
    "en": {
        "ask_service": "What kind of problem is it? Please choose one: {options}",
        "ask_location": "Where is it? Type an address or send your position.",
        "created": "Your complaint is filed: number {id}, handled by {dept}, expected by {due}. "
        "Ask me about this number to follow it.",
        "cancelled": "The report was cancelled.",
        "handoff": "I could not find a good answer. I passed our conversation to a staff member, "
        "who will reply soon.",
        "status": "Complaint {id} ({service}) is now '{status}'.{notes}",
        "no_request": "I cannot find complaint {id}.",
        "statuses": {
            "received": "received",
            "assigned": "assigned to a department",
            "in_progress": "in progress",
            "resolved": "resolved",
            "closed": "closed",
            "duplicate": "merged into another case",
            "rejected": "rejected",
        },
    },
}


def check_message(message: Any) -> str:
    """The message, normalised; refuses empty, binary and overlong messages."""
    if not isinstance(message, str):
        raise ValidationError("message: text expected", field="message")
    if len(message) > 20 * MAX_MESSAGE_CHARS:
        raise PayloadTooLargeError(f"message longer than {MAX_MESSAGE_CHARS} characters")
    controls = sum(1 for ch in message if ord(ch) < 32 and ch not in "\n\t\r")
    if controls > 0:
        raise ValidationError("message: contains control characters (binary?)", field="message")
    text = normalise(message)
    if not text:
        raise ValidationError("message is empty", field="message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError(
            f"message longer than {MAX_MESSAGE_CHARS} characters", field="message"
        )
    return text


def guess_service(text: str, services: Mapping[str, Service]) -> str | None:
    """The category whose keywords the text names (the most keywords wins), if any."""
    lowered = text.lower()
    best, hits = None, 0
    for code, service in services.items():
        n = sum(1 for k in service.keywords if k.lower() in lowered)
        if n > hits:
            best, hits = code, n
    return best


@dataclass(frozen=True)
class _Turn:
    """One resident message and what came with it."""

    text: str
    lang: str
    position: tuple[float | None, float | None] | None
    photo: str | None
    key_id: int | None
    now: datetime


class Chat:
    """Conversations over a knowledge base and the complaint catalogue."""

    def __init__(self, retriever: Retriever, services: Mapping[str, Service]) -> None:
        self.retriever = retriever
        self.services = services
        self._lock = threading.Lock()

    def reply(
        self,
        conn: Connection,
        body: Mapping[str, Any],
        *,
        key_id: int | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Handle one message ``{conversation_id?, message, lat?, lon?, photo_url?}``."""
        allowed = {"conversation_id", "message", "lat", "lon", "photo_url"}
        if set(body) - allowed:
            raise ValidationError(f"unknown field(s) {sorted(set(body) - allowed)}")
        text = check_message(body.get("message"))
        now = now or datetime.now(UTC)
        position = None
        if body.get("lat") is not None or body.get("lon") is not None:
            lat, lon, _ = complaints.parse_location(
                {"lat": body.get("lat"), "long": body.get("lon")}
            )
            position = (lat, lon)
        photo = body.get("photo_url")
        if photo is not None and (
            not isinstance(photo, str)
            or not photo.lower().startswith(("https://", "http://"))
            or len(photo) > 2000
        ):
            raise ValidationError("photo_url must be an http(s) URL", field="photo_url")
        lang = language(text)
        cid = body.get("conversation_id")
        if cid is None:
            cid = str(uuid.uuid4())
            conn.execute(
                insert(civic_conversations).values(
                    id=cid, lang=lang, state="chat", draft=None, created_at=now, updated_at=now,
                    key_id=key_id,
                )
            )  # fmt: skip
            conv = {"state": "chat", "draft": None}
        else:
            if not isinstance(cid, str) or len(cid) > 36:
                raise ValidationError(
                    "conversation_id: the id the bot gave", field="conversation_id"
                )
            row = conn.execute(
                select(civic_conversations).where(civic_conversations.c.id == cid)
            ).first()
            if row is None:
                raise NotFoundError(f"no conversation {cid!r}")
            conv = {"state": row.state, "draft": row.draft}
        self._log(conn, cid, now, "resident", "message", text)
        out = self._respond(conn, conv, _Turn(text, lang, position, photo, key_id, now))
        values: dict[str, Any] = {
            "state": conv["state"],
            "draft": conv["draft"],
            "lang": lang,
            "updated_at": now,
        }
        if out.get("request"):
            values["request_id"] = int(out["request"]["service_request_id"])
        conn.execute(
            update(civic_conversations).where(civic_conversations.c.id == cid).values(**values)
        )
        self._log(conn, cid, now, "bot", out["kind"], out["reply"])
        return {"conversation_id": cid, **out}

    # ------------------------------------------------------------------ internals
    def _log(
        self, conn: Connection, cid: str, at: datetime, role: str, kind: str, text: str
    ) -> None:
        conn.execute(
            insert(civic_messages).values(
                conversation_id=cid, at=at, role=role, kind=kind, text=mask_personal_data(text)
            )
        )

    def _respond(self, conn: Connection, conv: dict[str, Any], turn: _Turn) -> dict[str, Any]:
        text, lang = turn.text, turn.lang
        t = _TEXT[lang]
        status = _STATUS.search(text)
        if status and conv["state"] != "report":
            return self._status(conn, int(status.group(1) or status.group(2)), lang)
        if conv["state"] == "report":
            if _CANCEL.match(text):
                conv.update(state="chat", draft=None)
                return {"kind": "cancelled", "reply": t["cancelled"]}
            return self._collect(conn, conv, turn, first=False)
        if _REPORT.search(text) and not _QUESTION_ONLY.search(text):
            conv.update(state="report", draft={"description": text})
            return self._collect(conn, conv, turn, first=True)
        with self._lock:
            answer = self.retriever.ask(text)
        if answer.handoff:
            conv["state"] = "handoff"
            return {
                "kind": "handoff",
                "reply": t["handoff"],
                "handoff": True,
                "candidates": answer.candidates[:3],
            }
        conv["state"] = "chat"
        return {
            "kind": "answer",
            "reply": answer.answer,
            "answer_id": answer.answer_id,
            "score": round(answer.score, 4),
            "handoff": False,
        }

    def _collect(
        self, conn: Connection, conv: dict[str, Any], turn: _Turn, *, first: bool
    ) -> dict[str, Any]:
        text, lang, position, photo = turn.text, turn.lang, turn.position, turn.photo
        t = _TEXT[lang]
        draft = dict(conv["draft"] or {})
        asked = draft.get("asked")
        if "service_code" not in draft:
            code = text if text in self.services else guess_service(text, self.services)
            if code is None and asked == "service":
                lowered = text.lower()
                code = next(
                    (
                        c
                        for c, s in self.services.items()
                        if s.name_ko in text or s.name.lower() in lowered
                    ),
                    None,
                )
            if code is not None:
                draft["service_code"] = code
        if position is not None:
            draft["lat"], draft["lon"] = position
        elif not first and asked == "location" and "lat" not in draft:
            draft["address"] = text[:500]
        if photo:
            draft["media_url"] = photo
        missing = []
        if "service_code" not in draft:
            missing.append("service")
        if "lat" not in draft and "address" not in draft:
            missing.append("location")
        if missing:
            draft["asked"] = missing[0]
            conv["draft"] = draft
            if missing[0] == "service":
                options = ", ".join(
                    f"{s.name_ko if lang == 'ko' else s.name} ({c})"
                    for c, s in self.services.items()
                )
                reply = t["ask_service"].format(options=options)
            else:
                reply = t["ask_location"]
            return {"kind": "report_question", "reply": reply, "missing": missing}
        fields = {
            "service_code": draft["service_code"],
            "description": draft.get("description"),
            "media_url": draft.get("media_url"),
        }
        if "lat" in draft:
            fields["lat"], fields["long"] = str(draft["lat"]), str(draft["lon"])
        if "address" in draft:
            fields["address_string"] = draft["address"]
        made = complaints.create_request(
            conn, fields, self.services, key_id=turn.key_id, now=turn.now
        )
        service = self.services[draft["service_code"]]
        row = complaints.get_row(conn, int(made["service_request_id"]))
        conv.update(state="chat", draft=None)
        return {
            "kind": "report_created",
            "reply": t["created"].format(
                id=made["service_request_id"],
                dept=service.department,
                due=row.expected_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            ),
            "request": {"service_request_id": made["service_request_id"], "token": made["token"]},
        }

    def _status(self, conn: Connection, rid: int, lang: str) -> dict[str, Any]:
        t = _TEXT[lang]
        try:
            row = complaints.get_row(conn, rid)
        except NotFoundError:
            return {"kind": "status", "reply": t["no_request"].format(id=rid), "found": False}
        service = self.services.get(row.service_code)
        name = (service.name_ko if lang == "ko" else service.name) if service else row.service_code
        notes = f" ({row.status_notes})" if row.status_notes else ""
        return {
            "kind": "status",
            "reply": t["status"].format(
                id=rid, service=name, status=t["statuses"][row.status], notes=notes
            ),
            "found": True,
            "status": row.status,
        }


def transcript(conn: Connection, cid: str) -> dict[str, Any]:
    """A conversation and its messages (personal data masked), for staff."""
    row = conn.execute(select(civic_conversations).where(civic_conversations.c.id == cid)).first()
    if row is None:
        raise NotFoundError(f"no conversation {cid!r}")
    msgs = conn.execute(
        select(civic_messages)
        .where(civic_messages.c.conversation_id == cid)
        .order_by(civic_messages.c.id)
    ).all()
    return {
        "id": row.id,
        "state": row.state,
        "lang": row.lang,
        "request_id": row.request_id,
        "created_at": row.created_at.astimezone(UTC).isoformat(),
        "messages": [
            {"at": m.at.astimezone(UTC).isoformat(), "role": m.role, "kind": m.kind, "text": m.text}
            for m in msgs
        ],
    }
