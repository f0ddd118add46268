"""The gateway's error catalogue.

Codes follow the ШЭП / X-Road style: a dotted name whose first part says which side failed --
``Client`` (the caller sent something wrong), ``Server`` (the gateway could not deliver or the
provider failed), ``Provider`` (the provider refused the request itself). Each code has its HTTP
status and its text in Kazakh, Russian and English.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gateway_protocol.envelope import ErrorInfo, Fault, RequestInfo


class Side(StrEnum):
    caller = "caller"
    gateway = "gateway"
    provider = "provider"


@dataclass(frozen=True)
class ErrorSpec:
    http_status: int
    side: Side
    kk: str
    ru: str
    en: str


class ErrorCode(StrEnum):
    ENVELOPE_INVALID = "Client.EnvelopeInvalid"
    UNKNOWN_SENDER = "Client.UnknownSender"
    AUTHENTICATION_FAILED = "Client.AuthenticationFailed"
    SIGNATURE_INVALID = "Client.SignatureInvalid"
    ACCESS_DENIED = "Client.AccessDenied"
    UNKNOWN_SERVICE = "Client.UnknownService"
    UNKNOWN_ROUTE = "Client.UnknownRoute"
    HOP_NOT_TRUSTED = "Client.HopNotTrusted"
    MESSAGE_DATE_OUT_OF_RANGE = "Client.MessageDateOutOfRange"
    MESSAGE_TYPE_MISSING = "Client.MessageTypeMissing"
    MESSAGE_REPLAYED = "Client.MessageReplayed"
    UNKNOWN_MESSAGE = "Client.UnknownMessage"
    QUERY_INVALID = "Client.QueryInvalid"
    PROVIDER_UNAVAILABLE = "Server.ProviderUnavailable"
    PROVIDER_TIMEOUT = "Server.ProviderTimeout"
    PROVIDER_RESPONSE_INVALID = "Server.ProviderResponseInvalid"
    TARGET_UNKNOWN = "Server.TargetUnknown"
    GATEWAY_INTERNAL = "Server.InternalError"
    PROVIDER_REQUEST_INVALID = "Provider.RequestInvalid"
    PROVIDER_NOT_FOUND = "Provider.NotFound"
    PROVIDER_REFUSED = "Provider.Refused"
    PROVIDER_UNKNOWN_SERVICE = "Provider.UnknownService"
    PROVIDER_CONSENT_REQUIRED = "Provider.ConsentRequired"


CATALOGUE: dict[ErrorCode, ErrorSpec] = {
    ErrorCode.ENVELOPE_INVALID: ErrorSpec(
        400, Side.caller,
        "Хабарлама құрылымы дұрыс емес",
        "Неверная структура сообщения",
        "The message envelope is not valid",
    ),
    ErrorCode.UNKNOWN_SENDER: ErrorSpec(
        403, Side.caller,
        "Жіберуші ақпараттық жүйе тіркелмеген",
        "Информационная система-отправитель не зарегистрирована",
        "The sending information system is not registered",
    ),
    ErrorCode.AUTHENTICATION_FAILED: ErrorSpec(
        403, Side.caller,
        "Жіберушінің паролі дұрыс емес",
        "Неверный пароль отправителя",
        "The sender's password is wrong",
    ),
    ErrorCode.SIGNATURE_INVALID: ErrorSpec(
        403, Side.caller,
        "Хабарламаның ЭЦҚ-сы тексеруден өтпеді",
        "ЭЦП сообщения не прошла проверку",
        "The message signature did not verify",
    ),
    ErrorCode.ACCESS_DENIED: ErrorSpec(
        403, Side.caller,
        "Жіберушінің бұл сервиске қол жеткізу құқығы жоқ",
        "У отправителя нет права доступа к этому сервису",
        "The sender has no access right to this service",
    ),
    ErrorCode.UNKNOWN_SERVICE: ErrorSpec(
        404, Side.caller,
        "Мұндай сервис тіркелмеген",
        "Сервис не зарегистрирован",
        "No such service is registered",
    ),
    ErrorCode.UNKNOWN_ROUTE: ErrorSpec(
        404, Side.caller,
        "Хабарламаның бағыты (routeId) белгісіз",
        "Неизвестный маршрут сообщения (routeId)",
        "The message route (routeId) is unknown",
    ),
    ErrorCode.HOP_NOT_TRUSTED: ErrorSpec(
        403, Side.caller,
        "Хабарламаны жіберген шлюз сенімді емес",
        "Шлюз, переславший сообщение, не является доверенным",
        "The gateway that forwarded the message is not trusted",
    ),
    ErrorCode.MESSAGE_DATE_OUT_OF_RANGE: ErrorSpec(
        400, Side.caller,
        "Хабарламаның күні (messageDate) рұқсат етілген ауытқудан тыс",
        "Дата сообщения (messageDate) вне допустимого отклонения",
        "The messageDate is too far from the gateway's time",
    ),
    ErrorCode.MESSAGE_TYPE_MISSING: ErrorSpec(
        400, Side.caller,
        "Асинхронды хабарламаның түрі (messageType) көрсетілмеген",
        "Не указан тип асинхронного сообщения (messageType)",
        "An async message needs its messageType",
    ),
    ErrorCode.MESSAGE_REPLAYED: ErrorSpec(
        409, Side.caller,
        "Бұл messageId бар хабарламаға бұрын жауап берілген, қайталау мерзімі өтіп кеткен",
        "На сообщение с этим messageId уже был дан ответ, и срок повтора истёк",
        "The messageId was answered before, longer ago than the replay window",
    ),
    ErrorCode.UNKNOWN_MESSAGE: ErrorSpec(
        404, Side.caller,
        "Мұндай хабарлама шлюзде жоқ",
        "Такого сообщения на шлюзе нет",
        "The gateway holds no such message",
    ),
    ErrorCode.QUERY_INVALID: ErrorSpec(
        400, Side.caller,
        "Сұраудың өрістері дұрыс емес",
        "Поля запроса некорректны",
        "The query's fields are not valid",
    ),
    ErrorCode.PROVIDER_UNAVAILABLE: ErrorSpec(
        502, Side.gateway,
        "Қызмет берушінің жүйесі қолжетімсіз",
        "Система поставщика недоступна",
        "The provider's system is unreachable",
    ),
    ErrorCode.PROVIDER_TIMEOUT: ErrorSpec(
        504, Side.gateway,
        "Қызмет берушінің жүйесі уақытында жауап бермеді",
        "Система поставщика не ответила вовремя",
        "The provider's system did not answer in time",
    ),
    ErrorCode.PROVIDER_RESPONSE_INVALID: ErrorSpec(
        502, Side.provider,
        "Қызмет берушінің жауабы дұрыс емес немесе қолтаңбасы расталмады",
        "Ответ поставщика некорректен или его подпись не подтверждена",
        "The provider's response is not valid or its signature did not verify",
    ),
    ErrorCode.TARGET_UNKNOWN: ErrorSpec(
        502, Side.gateway,
        "Сервистің мақсатты жүйесіне шлюзде жол жоқ",
        "У шлюза нет пути к целевой системе сервиса",
        "The gateway has no way to the service's target system",
    ),
    ErrorCode.GATEWAY_INTERNAL: ErrorSpec(
        500, Side.gateway,
        "Шлюздің ішкі қатесі",
        "Внутренняя ошибка шлюза",
        "Internal error of the gateway",
    ),
    ErrorCode.PROVIDER_REQUEST_INVALID: ErrorSpec(
        400, Side.provider,
        "Сұрау деректері дұрыс емес",
        "Данные запроса некорректны",
        "The request data is not valid",
    ),
    ErrorCode.PROVIDER_NOT_FOUND: ErrorSpec(
        404, Side.provider,
        "Сұралған деректер табылмады",
        "Запрошенные данные не найдены",
        "The requested data was not found",
    ),
    ErrorCode.PROVIDER_REFUSED: ErrorSpec(
        409, Side.provider,
        "Қызмет беруші сұрауды қабылдамады",
        "Поставщик отклонил запрос",
        "The provider refused the request",
    ),
    ErrorCode.PROVIDER_CONSENT_REQUIRED: ErrorSpec(
        403, Side.provider,
        "Дербес деректерге қол жеткізу үшін азаматтың келісімі қажет",
        "Для доступа к персональным данным нужно согласие гражданина",
        "The citizen's consent is required to access these personal data",
    ),
    ErrorCode.PROVIDER_UNKNOWN_SERVICE: ErrorSpec(
        404, Side.provider,
        "Қызмет берушіде мұндай сервис жоқ",
        "У поставщика нет такого сервиса",
        "The provider has no such service",
    ),
}


@dataclass
class GatewayFault(Exception):
    """A fault to answer (or answered) instead of a response."""

    code: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    sub: GatewayFault | None = None
    session_id: str | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.code}: {self.detail or self.spec.en}")

    @property
    def spec(self) -> ErrorSpec:
        try:
            return CATALOGUE[ErrorCode(self.code)]
        except ValueError:
            return CATALOGUE[ErrorCode.GATEWAY_INTERNAL]

    @property
    def http_status(self) -> int:
        return self.spec.http_status

    def to_error_info(self, at: datetime) -> ErrorInfo:
        spec = self.spec
        message = spec.en + (f": {self.detail}" if self.detail else "")
        return ErrorInfo(
            errorCode=self.code,
            errorMessage=message,
            errorData={
                "side": spec.side.value,
                "message_kk": spec.kk,
                "message_ru": spec.ru,
                "message_en": spec.en,
                **({"detail": self.detail} if self.detail else {}),
                **self.data,
            },
            errorDate=at,
            subError=self.sub.to_error_info(at) if self.sub else None,
            sessionId=self.session_id,
        )

    def to_body(self, at: datetime) -> dict[str, Any]:
        return Fault(errorInfo=self.to_error_info(at)).model_dump(mode="json", exclude_none=True)

    @classmethod
    def from_error_info(cls, info: ErrorInfo) -> GatewayFault:
        data = {k: v for k, v in info.errorData.items() if not k.startswith("message_")}
        detail = str(data.pop("detail", ""))
        data.pop("side", None)
        return cls(
            code=info.errorCode,
            detail=detail,
            data=data,
            sub=cls.from_error_info(info.subError) if info.subError else None,
            session_id=info.sessionId,
        )


def check_message_date(info: RequestInfo, at: datetime, skew: timedelta, whose: str) -> None:
    """``Client.MessageDateOutOfRange`` when the message's date is more than ``skew`` from ``at``,
    the time of ``whose`` clock (a date without an offset is read in ``at``'s)."""
    message_date = info.messageDate if info.messageDate.tzinfo else info.messageDate.replace(tzinfo=at.tzinfo)
    if abs(message_date - at) > skew:
        raise GatewayFault(
            ErrorCode.MESSAGE_DATE_OUT_OF_RANGE,
            f"messageDate {info.messageDate.isoformat()} is more than {skew.total_seconds():g} s "
            f"from {whose} time {at.isoformat()}",
        )
