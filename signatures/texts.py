"""What a person reads from the certification authority, in Kazakh, Russian and English."""

INVALID_REQUEST = {"kk": "Сұрау дұрыс емес", "ru": "Запрос некорректен", "en": "The request is not valid"}
NO_CERTIFICATE = {"kk": "Мұндай сертификат жоқ", "ru": "Такого сертификата нет", "en": "There is no such certificate"}
NEEDS_ADMIN_OR_PROOF = {
    "en": "Issuing, reissuing and revoking need the run's admin token (X-Egov-Sim-Token), or, for one's "
          "own certificate, a proof signed with its current key (field proof)",
    "kk": "Сертификат беру, қайта беру және кері қайтару үшін әкімші токені (X-Egov-Sim-Token) немесе өз "
          "сертификатының ағымдағы кілтімен қол қойылған дәлел (proof өрісі) қажет",
    "ru": "Для выпуска, перевыпуска и отзыва нужен токен администратора (X-Egov-Sim-Token) или, для своего "
          "сертификата, подтверждение, подписанное его действующим ключом (поле proof)",
}
PROOF_REFUSED = {
    "en": "The proof of holding the key is not accepted",
    "kk": "Кілтті иеленетінін дәлелдеу қабылданбады",
    "ru": "Подтверждение владения ключом не принято",
}
