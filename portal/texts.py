"""What the citizen reads, in Kazakh, Russian and English."""

STATUS = {
    "accepted": {
        "kk": "Өтініш қабылданды",
        "ru": "Заявление принято",
        "en": "Application accepted",
    },
    "rejected": {
        "kk": "Өтініш қабылданбады",
        "ru": "Заявление не принято",
        "en": "Application rejected",
    },
    "in_progress": {
        "kk": "Өтініш қаралуда",
        "ru": "Заявление на рассмотрении",
        "en": "Application in progress",
    },
    "not_delivered": {
        "kk": "Өтінішті қызмет берушіге жеткізу мүмкін болмады",
        "ru": "Заявление не удалось доставить услугодателю",
        "en": "The application could not be delivered to the provider",
    },
    "result": {
        "kk": "Мемлекеттік қызмет көрсету нәтижесі дайын",
        "ru": "Результат оказания государственной услуги готов",
        "en": "The result of the state service is ready",
    },
}

AUTH_REFUSED = {
    "kk": "Порталда авторизациялаудан бас тартылды: ЖСН немесе пароль дұрыс емес",
    "ru": "Отказано в авторизации на портале: неверный ИИН или пароль",
    "en": "Authorisation on the portal refused: wrong ЖСН (IIN) or password",
}

SIGNATURE_REFUSED = {
    "kk": "ЭЦҚ түпнұсқалығы расталмауына байланысты мемлекеттік қызметті көрсетуден бас тартылды",
    "ru": "Отказ в оказании государственной услуги в связи с неподтверждением подлинности ЭЦП",
    "en": "The state service is refused: the electronic digital signature could not be confirmed",
}
