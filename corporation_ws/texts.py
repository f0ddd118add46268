"""What the applicant reads on the receipts, in Kazakh, Russian and English."""

INCOMPLETE = {
    "kk": "Құжаттарды қабылдаудан бас тарту туралы қолхат: Стандарттың 9-тармағында көзделген тізбеге сәйкес "
          "құжаттардың толық топтамасы ұсынылмаған",
    "ru": "Расписка об отказе в приёме документов: не представлен полный пакет документов по перечню пункта 9 Стандарта",
    "en": "Receipt of refusal to accept the documents: the full package listed in item 9 of the Standard was not presented",
}
NO_DATA = {
    "kk": "ЖТ МДҚ-да көрсетілетін қызметті алушы деректерінің және (немесе) БНАЖ-да сенімхат деректерінің болмауына "
          "байланысты деректерді алу мүмкін емес",
    "ru": "Получение данных невозможно: нет сведений об услугополучателе в ГБД ФЛ и (или) о доверенности в ЕНИС",
    "en": "The data cannot be obtained: the applicant is not in the State database of individuals and/or the power "
          "of attorney is not valid in the notarial system",
}
ACCEPTED = {
    "kk": "Құжаттардың қабылданғаны туралы қолхат",
    "ru": "Расписка о приёме документов",
    "en": "Receipt of the documents accepted",
}
HANDED = {
    "kk": "Мемлекеттік қызмет көрсету нәтижесі көрсетілетін қызметті алушыға берілді",
    "ru": "Результат оказания государственной услуги выдан услугополучателю",
    "en": "The result of the state service was handed to the applicant",
}

LANGS = ("kk", "ru", "en")


def incomplete_text(listed: dict[str, str]) -> dict[str, str]:
    """The refusal to accept an incomplete package, naming where the list of documents is
    (``listed``: "осы регламенттің 15-тармағында", "пунктом 15 регламента", "item 15 of the
    reglament")."""
    return {
        "kk": f"Құжаттарды қабылдаудан бас тарту: {listed['kk']} көзделген барлық қажетті құжаттар тапсырылмаған",
        "ru": f"Отказ в приёме документов: представлены не все необходимые документы, предусмотренные {listed['ru']}",
        "en": f"The documents are not accepted: not all the documents required by {listed['en']} were handed",
    }


RECEIPT = {
    "kk": "Мемлекеттік қызметті көрсетуге құжаттарды қабылдау туралы қолхат",
    "ru": "Расписка о приёме документов для оказания государственной услуги",
    "en": "Receipt of the documents accepted for the state service",
}
