"""What a person reads from the certification authority, in Kazakh, Russian and English."""

INVALID_REQUEST = {"kk": "Сұрау дұрыс емес", "ru": "Запрос некорректен", "en": "The request is not valid"}
NO_CERTIFICATE = {"kk": "Мұндай сертификат жоқ", "ru": "Такого сертификата нет", "en": "There is no such certificate"}
