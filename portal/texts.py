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

# ---- registration: the citizen proves the ЖСН with their AUTH ЭЦҚ --------------------------------

CHALLENGE_UNKNOWN = {
    "kk": "Тіркеуге арналған бір реттік мәтін табылмады: жаңасын алыңыз (POST /api/accounts/challenge)",
    "ru": "Одноразовый текст для регистрации не найден: получите новый (POST /api/accounts/challenge)",
    "en": "No such registration challenge: get a new one (POST /api/accounts/challenge)",
}

CHALLENGES_OUTSTANDING = {
    "kk": "Тіркеуге арналған бір реттік мәтіндер тым көп берілді: бірнеше минуттан кейін қайталаңыз",
    "ru": "Выдано слишком много одноразовых текстов для регистрации: повторите через несколько минут",
    "en": "Too many registration challenges are waiting for a signature: try again in a few minutes",
}
CHALLENGE_USED = {
    "kk": "Тіркеуге арналған бір реттік мәтін бұрын пайдаланылған: жаңасын алыңыз",
    "ru": "Одноразовый текст для регистрации уже использован: получите новый",
    "en": "This registration challenge has been used already: get a new one",
}


def challenge_expired(expired_at: str) -> dict[str, str]:
    return {
        "kk": f"Тіркеуге арналған бір реттік мәтіннің мерзімі {expired_at} өтіп кетті: жаңасын алыңыз",
        "ru": f"Срок одноразового текста для регистрации истёк {expired_at}: получите новый",
        "en": f"This registration challenge expired at {expired_at}: get a new one",
    }


IDENTITY_NOT_PROVEN = {
    "kk": "Тіркеуден бас тартылды: ЖСН азаматтың аутентификациялық ЭЦҚ-сымен (AUTH) расталмады",
    "ru": "Отказано в регистрации: ИИН не подтверждён ЭЦП гражданина для аутентификации (AUTH)",
    "en": "Registration refused: the ЖСН (IIN) is not proven with the citizen's authentication (AUTH) key",
}

NOT_AN_INDIVIDUAL = {
    "kk": "тіркеу куәлігі жеке тұлғаның емес (ұйым қызметкерінің немесе ақпараттық жүйенің)",
    "ru": "регистрационное свидетельство выдано не физическому лицу (сотруднику организации или "
          "информационной системе)",
    "en": "the certificate is not an individual's (it is an organisation employee's or a system's)",
}


def account_locked(until: str, attempts: int) -> dict[str, str]:
    """The refusal of a log-in to an account locked after ``attempts`` wrong passwords."""
    return {
        "kk": f"Пароль {attempts} рет қате терілгендіктен аккаунт {until} дейін бұғатталды; "
              "осы уақытқа дейін дұрыс пароль де қабылданбайды",
        "ru": f"Учётная запись заблокирована до {until} после {attempts} неверных вводов пароля; "
              "до этого времени не принимается и верный пароль",
        "en": f"The account is locked until {until} after {attempts} wrong passwords; until then even "
              "the right password is refused",
    }
