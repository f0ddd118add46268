"""A synthetic population, the same every time for the same seed.

Households of Kazakh families living in the seed reglaments' regions, with everything the
registries know of them: ГБД ФЛ persons (valid ЖСН consistent with birth date and gender, Kazakh
names, identity documents, registered address, family relations), notarised powers of attorney,
address registration history, dwellings owned (with acquisitions and recent sales), monthly
incomes by source and unemployed registration, and tenancies of the communal housing fund. A
realistic share of edge cases is built in (see ``RATES``).

It is generated in chunks of whole households, so a million persons never sit in memory at once.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from simulation.identifiers import make_iin

REFERENCE_DATE = date(2026, 1, 1)
"""The population's "today": documents expire, sales are recent, incomes run, relative to it."""

RATES = {
    "deceased": 0.01,
    "document_expired": 0.04,
    "document_invalid": 0.01,
    "power_of_attorney": 0.03,      # of adults: grants one
    "owner": 0.35,                  # of households: owns its dwelling
    "recent_sale": 0.03,            # of households: sold a dwelling in the last five years
    "low_income": 0.15,             # of households
    "unemployed": 0.04,             # of working-age adults: registered as unemployed
    "communal_tenant": 0.05,        # of households: lives in a communal fund dwelling
    # Drawn from each household's own generator (``_extras``), so adding them left the rest as it was:
    "unsafe": 0.03,                 # of owned dwellings: declared unsafe (emergency) by a commission
    "disabled_child": 0.02,         # of children: a disabled child
    "disability": 0.03,             # of adults: disability group 1, 2 or 3
    "tenancy_released": 0.01,       # of households: gave up a communal fund dwelling in the last five years
}

MALE = ["Ерлан", "Дәурен", "Асқар", "Нұрлан", "Серік", "Бауыржан", "Ержан", "Қайрат", "Марат", "Руслан",
        "Ғалым", "Әлібек", "Нұржан", "Бекзат", "Жандос", "Арман", "Талғат", "Самат", "Ілияс", "Темірлан",
        "Айдос", "Мұрат", "Болат", "Дидар", "Ерболат", "Қанат", "Алмас", "Санжар", "Өркен", "Жасұлан"]
FEMALE = ["Әлия", "Гүлнар", "Айгүл", "Жанар", "Динара", "Сәуле", "Ақмарал", "Мөлдір", "Айжан", "Гүлмира",
          "Назерке", "Аружан", "Жұлдыз", "Перизат", "Айнұр", "Салтанат", "Ләззат", "Әсел", "Томирис", "Балнұр",
          "Еркеназ", "Дана", "Аяулым", "Гаухар", "Мәдина", "Інжу", "Жансая", "Қарлығаш", "Ұлжан", "Шынар"]
SURNAME_ROOTS = ["Омар", "Нұрлан", "Қасым", "Серік", "Ахмет", "Жақсыбек", "Сейітқали", "Тоқтар", "Бекмұрат",
                 "Әбіл", "Есен", "Мұхамеджан", "Сұлтан", "Ибрагим", "Қожахмет", "Байжан", "Төлеген", "Жұмабай",
                 "Садық", "Оспан", "Ержан", "Исабек", "Қуаныш", "Әміре", "Смағұл", "Дүйсен", "Тұрсын", "Мақсұт"]

REGIONS: dict[str, dict[str, Any]] = {
    "almaty": {
        "region": {"code": "750000000", "nameKz": "Алматы қ.", "nameRu": "г. Алматы"},
        "city": {"code": "750000000", "nameKz": "Алматы", "nameRu": "Алматы"},
        "districts": [("751710000", "Әуезов ауданы", "Ауэзовский район"), ("751110000", "Алмалы ауданы", "Алмалинский район"),
                      ("751310000", "Бостандық ауданы", "Бостандыкский район"), ("751510000", "Медеу ауданы", "Медеуский район")],
        "streets": ["Абай даңғылы", "Жандосов көшесі", "Төле би көшесі", "Сайын көшесі", "Розыбакиев көшесі"],
        "weight": 0.4,
    },
    "pavlodar": {
        "region": {"code": "550000000", "nameKz": "Павлодар облысы", "nameRu": "Павлодарская область"},
        "city": {"code": "551010000", "nameKz": "Павлодар", "nameRu": "Павлодар"},
        "districts": [("551010000", "Павлодар қ.", "г. Павлодар"), ("552210000", "Екібастұз қ.", "г. Экибастуз")],
        "streets": ["Естай көшесі", "Кривенко көшесі", "Торайғыров көшесі", "Академик Сәтбаев көшесі"],
        "weight": 0.2,
    },
    "karaganda": {
        "region": {"code": "350000000", "nameKz": "Қарағанды облысы", "nameRu": "Карагандинская область"},
        "city": {"code": "354030100", "nameKz": "Ақтоғай", "nameRu": "Актогай"},
        "districts": [("354000000", "Ақтоғай ауданы", "Актогайский район"), ("351010000", "Қарағанды қ.", "г. Караганда")],
        "streets": ["Бөкейхан көшесі", "Ерубаев көшесі", "Бұқар жырау даңғылы"],
        "weight": 0.2,
    },
    "wko": {
        "region": {"code": "270000000", "nameKz": "Батыс Қазақстан облысы", "nameRu": "Западно-Казахстанская область"},
        "city": {"code": "271010000", "nameKz": "Орал", "nameRu": "Уральск"},
        "districts": [("271010000", "Орал қ.", "г. Уральск"), ("273600000", "Бөрлі ауданы", "Бурлинский район")],
        "streets": ["Достық даңғылы", "Құрманғазы көшесі", "Сырым Датов көшесі"],
        "weight": 0.2,
    },
}

KZ = {"code": "398", "nameKz": "ҚАЗАҚСТАН", "nameRu": "КАЗАХСТАН"}
GENDER = {1: {"code": "1", "nameKz": "Ер", "nameRu": "Мужской"}, 2: {"code": "2", "nameKz": "Әйел", "nameRu": "Женский"}}
NATIONALITY = {"code": "005", "nameKz": "ҚАЗАҚ", "nameRu": "КАЗАХ"}
ALIVE = {"code": "0", "nameKz": "Тірі", "nameRu": "Жив"}
DEAD = {"code": "1", "nameKz": "Қайтыс болған", "nameRu": "Умер"}
DOC_ID = {"code": "002", "nameKz": "Жеке куәлік", "nameRu": "Удостоверение личности"}
DOC_VALID = {"code": "00", "nameKz": "Жарамды", "nameRu": "Действителен"}
DOC_INVALID = {"code": "03", "nameKz": "Жарамсыз (жоғалған)", "nameRu": "Недействителен (утерян)"}
MVD = {"code": "002", "nameKz": "ҚР ІІМ", "nameRu": "МВД РК"}
RELATION = {
    "spouse": {"code": "01", "nameKz": "Жұбайы", "nameRu": "Супруг(а)"},
    "child": {"code": "02", "nameKz": "Баласы", "nameRu": "Ребёнок"},
    "parent": {"code": "03", "nameKz": "Ата-анасы", "nameRu": "Родитель"},
}
INCOME_SOURCES = {
    "wages": {"code": "01", "nameKz": "Жалақы", "nameRu": "Заработная плата"},
    "pension": {"code": "02", "nameKz": "Зейнетақы", "nameRu": "Пенсия"},
    "benefits": {"code": "03", "nameKz": "Әлеуметтік жәрдемақылар", "nameRu": "Социальные пособия"},
    "alimony": {"code": "04", "nameKz": "Алимент", "nameRu": "Алименты"},
    "entrepreneurship": {"code": "05", "nameKz": "Кәсіпкерлік табыс", "nameRu": "Доход от предпринимательства"},
}
DWELLING = {"apartment": {"code": "1", "nameKz": "Пәтер", "nameRu": "Квартира"},
            "house": {"code": "2", "nameKz": "Жеке тұрғын үй", "nameRu": "Индивидуальный жилой дом"}}
FUNDS = {"communal": {"code": "1", "nameKz": "Коммуналдық тұрғын үй қоры", "nameRu": "Коммунальный жилищный фонд"},
         "enterprise": {"code": "2", "nameKz": "Мемлекеттік кәсіпорынның тұрғын үй қоры", "nameRu": "Жилищный фонд госпредприятия"},
         "institution": {"code": "3", "nameKz": "Мемлекеттік мекеменің тұрғын үй қоры", "nameRu": "Жилищный фонд госучреждения"}}
ALIENATION = {
    "sale": {"code": "01", "nameKz": "Сатып алу-сату", "nameRu": "Купля-продажа"},
    "exchange": {"code": "02", "nameKz": "Айырбас", "nameRu": "Мена"},
    "gift": {"code": "03", "nameKz": "Сыйға тарту", "nameRu": "Дарение"},
    "division": {"code": "04", "nameKz": "Тұрғын үйді бөлу (үлесті бөліп шығару)", "nameRu": "Раздел жилища (выдел доли)"},
    "mortgage-buyout": {"code": "05", "nameKz": "Ипотекалық тұрғын үй қарызы бойынша жергілікті атқарушы органның сатып алуы",
                        "nameRu": "Выкуп местным исполнительным органом по ипотечному жилищному займу"},
    "demolition": {"code": "06", "nameKz": "Бұзылуы (жойылуы)", "nameRu": "Снос (уничтожение)"},
}
"""How a right ended (``alienationReason``)."""
CAUSE = {
    "wear": {"code": "01", "nameKz": "Табиғи тозу", "nameRu": "Естественный износ"},
    "disaster": {"code": "02", "nameKz": "Төтенше жағдай", "nameRu": "Чрезвычайная ситуация"},
    "owner-fault": {"code": "03", "nameKz": "Меншік иесінің кінәсі", "nameRu": "По вине собственника"},
}
"""Why a dwelling was declared unsafe or was demolished (``cause``)."""
STATUS = {
    "disabled-child": {"code": "01", "nameKz": "Мүгедек бала", "nameRu": "Ребёнок-инвалид"},
    "disability-1": {"code": "02", "nameKz": "1-топтағы мүгедек", "nameRu": "Инвалид 1 группы"},
    "disability-2": {"code": "03", "nameKz": "2-топтағы мүгедек", "nameRu": "Инвалид 2 группы"},
    "disability-3": {"code": "04", "nameKz": "3-топтағы мүгедек", "nameRu": "Инвалид 3 группы"},
    "orphan": {"code": "05", "nameKz": "Жетім бала", "nameRu": "Ребёнок-сирота"},
    "no-parental-care": {"code": "06", "nameKz": "Ата-анасының қамқорлығынсыз қалған бала",
                         "nameRu": "Ребёнок, оставшийся без попечения родителей"},
    "war-participant": {"code": "07", "nameKz": "Ұлы Отан соғысының қатысушысы", "nameRu": "Участник Великой Отечественной войны"},
    "war-disabled": {"code": "08", "nameKz": "Ұлы Отан соғысының мүгедегі", "nameRu": "Инвалид Великой Отечественной войны"},
}
"""Social statuses the incomes-and-status service returns (``statuses[].type``)."""
TERMINATION = {
    "released": {"code": "01", "nameKz": "Жалдаушының өз еркімен босатуы", "nameRu": "Добровольное освобождение нанимателем"},
    "privatized": {"code": "02", "nameKz": "Жекешелендіру", "nameRu": "Приватизация"},
    "evicted": {"code": "03", "nameKz": "Сот шешімімен шығару", "nameRu": "Выселение по решению суда"},
}
"""Why a tenancy of the communal fund ended (``formerTenancies[].terminationReason``)."""
NOTARIES = ["Б. Қасымова", "Н. Әбдірахманов", "Г. Сейітова", "А. Жұмабаев", "С. Омарова"]
PROXY_SERVICES = ["HousingQueueRegistration", "HousingCertificate", "HousingPrivatization", "HousingAid"]


@dataclass
class Chunk:
    """Whole households' worth of every registry's records."""

    persons: list[dict[str, Any]] = field(default_factory=list)
    powers: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    incomes: list[dict[str, Any]] = field(default_factory=list)
    tenancies: list[dict[str, Any]] = field(default_factory=list)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def _surname(rng: random.Random, gender: int, root: str) -> str:
    ending = rng.choice(["ов", "ев", "ин"]) if root[-1] not in "аеыіоөұүу" else "в"
    if root.endswith(("ов", "ев")):
        ending = ""
    word = root + ending
    return (word + ("а" if gender == 2 else "")).upper()


class _Generator:
    def __init__(self, seed: int, reference: date) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.reference = reference
        self.used: set[str] = set()
        self.serial = 0
        self.households = 0
        self.documents = 0
        self.powers = 0
        first = reference.replace(day=1)
        self.periods = [
            (first - timedelta(days=30 * back)).replace(day=1).strftime("%Y-%m") for back in range(12, 0, -1)
        ]
        """The last twelve months before the reference date, oldest first."""
        self.region_keys = list(REGIONS)
        self.region_weights = _cumulative([r["weight"] for r in REGIONS.values()])

    def iin(self, birth: date, gender: int) -> str:
        while True:
            self.serial = (self.serial + 1) % 10000
            value = make_iin(birth, gender, self.serial)
            if value not in self.used:
                self.used.add(value)
                return value

    def birth(self, age_from: int, age_to: int) -> date:
        days = self.rng.randint(age_from * 365, age_to * 365 + 364)
        return self.reference - timedelta(days=days)

    def person(self, gender: int, birth: date, surname_root: str, father: str, address: dict) -> dict[str, Any]:
        rng = self.rng
        name = rng.choice(MALE if gender == 1 else FEMALE)
        iin = self.iin(birth, gender)
        self.documents += 1
        begin = max(birth + timedelta(days=16 * 365), self.reference - timedelta(days=rng.randint(30, 3600)))
        end = begin + timedelta(days=3652)
        status = DOC_VALID
        roll = rng.random()
        if roll < RATES["document_expired"]:
            begin = self.reference - timedelta(days=rng.randint(3700, 4500))
            end = begin + timedelta(days=3652)
        elif roll < RATES["document_expired"] + RATES["document_invalid"]:
            status = DOC_INVALID
        document = {
            "type": DOC_ID, "number": f"0{self.documents:08d}", "beginDate": begin.isoformat(),
            "endDate": end.isoformat(), "issueOrganization": MVD, "status": status,
        }
        record: dict[str, Any] = {
            "iin": iin,
            "surname": _surname(rng, gender, surname_root),
            "name": name.upper(),
            "patronymic": (father + ("ҰЛЫ" if gender == 1 else "ҚЫЗЫ")).upper() if father else None,
            "birthDate": birth.isoformat(),
            "gender": GENDER[gender],
            "nationality": NATIONALITY,
            "citizenship": KZ,
            "lifeStatus": ALIVE,
            "regAddress": address,
            "documents": [document] if birth <= self.reference - timedelta(days=16 * 365) else [],
            "familyRelations": [],
        }
        if rng.random() < RATES["deceased"]:
            record["lifeStatus"] = DEAD
            record["deathDate"] = (self.reference - timedelta(days=rng.randint(1, 1500))).isoformat()
        return record

    def address(self) -> dict[str, Any]:
        rng = self.rng
        region_key = rng.choices(self.region_keys, cum_weights=self.region_weights)[0]
        region = REGIONS[region_key]
        code, kk, ru = rng.choice(region["districts"])
        begin = self.reference - timedelta(days=rng.randint(30, 8000))
        return {
            "country": KZ,
            "region": region["region"],
            "district": {"code": code, "nameKz": kk, "nameRu": ru},
            "city": region["city"],
            "street": rng.choice(region["streets"]),
            "building": str(rng.randint(1, 250)),
            "flat": str(rng.randint(1, 180)) if rng.random() < 0.75 else None,
            "beginDate": begin.isoformat(),
            "status": {"code": "1", "nameKz": "Тұрақты", "nameRu": "Постоянная"},
            "arCode": f"{rng.randint(10**15, 10**16 - 1)}",
            "routeId": region_key,
        }

    def household(self, chunk: Chunk, max_people: int) -> int:
        rng = self.rng
        self.households += 1
        address = self.address()
        root = rng.choice(SURNAME_ROOTS)
        grandfather = rng.choice(MALE)
        head_gender = 1 if rng.random() < 0.8 else 2
        head = self.person(head_gender, self.birth(22, 70), root, grandfather, address)
        members = [head]
        if rng.random() < 0.7 and len(members) < max_people:
            spouse = self.person(3 - head_gender, self.birth(20, 68), root, rng.choice(MALE), address)
            members.append(spouse)
            head["familyRelations"].append({"type": RELATION["spouse"], "iin": spouse["iin"]})
            spouse["familyRelations"].append({"type": RELATION["spouse"], "iin": head["iin"]})
        parents = list(members)
        father_name = head["name"].title() if head_gender == 1 else rng.choice(MALE)
        for _ in range(rng.choices([0, 1, 2, 3, 4, 5], weights=[25, 25, 25, 15, 7, 3])[0]):
            if len(members) >= max_people:
                break
            child = self.person(rng.choice([1, 2]), self.birth(0, 17), root, father_name, address)
            members.append(child)
            for parent in parents:
                parent["familyRelations"].append({"type": RELATION["child"], "iin": child["iin"]})
                child["familyRelations"].append({"type": RELATION["parent"], "iin": parent["iin"]})
        chunk.persons.extend(members)
        self._addresses(chunk, members, address)
        self._property(chunk, head, address)
        self._incomes(chunk, members)
        self._tenancy(chunk, head, address)
        self._powers(chunk, members)
        self._extras(chunk, members, parents, address)
        return len(members)

    def _extras(self, chunk: Chunk, members: list[dict], parents: list[dict], address: dict) -> None:
        """What the household's records say besides the basics -- how dwellings were alienated,
        unsafe dwellings, disabilities, tenancies given up -- drawn from the household's own
        generator, so the main one (and with it everything above) is as it was without them."""
        rng = random.Random(f"{self.seed}/{self.households}")
        head = members[0]
        rights = next((p["rights"] for p in reversed(chunk.properties) if p["iin"] == head["iin"]), [])
        for right in rights:
            if right["alienationDate"]:
                reason = rng.choices(list(ALIENATION), weights=[70, 8, 10, 4, 4, 4])[0]
                right["alienationReason"] = ALIENATION[reason]
                if reason == "demolition":
                    right["cause"] = CAUSE[rng.choices(list(CAUSE), weights=[60, 30, 10])[0]]
            elif rng.random() < RATES["unsafe"]:
                declared = self.reference - timedelta(days=rng.randint(60, 3000))
                right["emergencyAct"] = {
                    "number": f"{rng.randint(10, 999)}-А", "date": declared.isoformat(),
                    "cause": CAUSE[rng.choices(list(CAUSE), weights=[80, 15, 5])[0]],
                }
        iins = {person["iin"] for person in members}
        incomes = {record["iin"]: record for record in chunk.incomes[-len(members):] if record["iin"] in iins}
        for person in members:
            if person["lifeStatus"] is DEAD:
                continue
            adult = person in parents
            chance = RATES["disability"] if adult else RATES["disabled_child"]
            if rng.random() >= chance:
                continue
            kind = rng.choice(["disability-1", "disability-2", "disability-3"]) if adult else "disabled-child"
            since = max(date.fromisoformat(person["birthDate"]), self.reference - timedelta(days=rng.randint(100, 4000)))
            status = {"type": STATUS[kind], "beginDate": since.isoformat(), "endDate": None}
            record = incomes.get(person["iin"])
            if record is None:
                record = {"iin": person["iin"], "months": [], "unemployed": {"registered": False, "since": None}}
                chunk.incomes.append(record)
                incomes[person["iin"]] = record
            record.setdefault("statuses", []).append(status)
        if rng.random() < RATES["tenancy_released"]:
            ended = self.reference - timedelta(days=rng.randint(60, 1800))
            former = {
                "fund": FUNDS["communal"],
                "address": {"region": address["region"], "city": address["city"],
                            "street": rng.choice(REGIONS[address["routeId"]]["streets"]),
                            "building": str(rng.randint(1, 250)), "flat": str(rng.randint(1, 180))},
                "since": (ended - timedelta(days=rng.randint(400, 6000))).isoformat(),
                "endDate": ended.isoformat(),
                "terminationReason": TERMINATION[rng.choices(list(TERMINATION), weights=[60, 30, 10])[0]],
            }
            existing = next((t for t in chunk.tenancies if t["iin"] == head["iin"]), None)
            if existing is None:
                chunk.tenancies.append({"iin": head["iin"], "tenancy": None, "formerTenancies": [former]})
            else:
                existing["formerTenancies"] = [former]

    def _addresses(self, chunk: Chunk, members: list[dict], current: dict) -> None:
        for person in members:
            history = []
            if self.rng.random() < 0.5:
                previous = self.address()
                previous["endDate"] = current["beginDate"]
                previous["status"] = {"code": "2", "nameKz": "Тіркеуден шығарылған", "nameRu": "Снят с регистрации"}
                history.append(previous)
            history.append({**current, "endDate": None})
            chunk.addresses.append({"iin": person["iin"], "addresses": history})

    def _property(self, chunk: Chunk, head: dict, address: dict) -> None:
        rng = self.rng
        rights = []
        if rng.random() < RATES["owner"]:
            rights.append(self._dwelling(address, alienated=False))
        if rng.random() < RATES["recent_sale"]:
            rights.append(self._dwelling(self.address(), alienated=True))
        if rights:
            chunk.properties.append({"iin": head["iin"], "rights": rights})

    def _dwelling(self, address: dict, alienated: bool) -> dict[str, Any]:
        rng = self.rng
        acquired = self.reference - timedelta(days=rng.randint(2000, 9000))
        kind = "apartment" if address.get("flat") else "house"
        return {
            "cadastralNumber": f"20:3{rng.randint(10, 99)}:0{rng.randint(100, 999)}:{rng.randint(1000, 9999)}",
            "type": DWELLING[kind],
            "address": {k: v for k, v in address.items() if k in ("region", "city", "street", "building", "flat")},
            "area": round(rng.uniform(28, 140), 1),
            "rooms": rng.randint(1, 5),
            "share": "1/1",
            "acquisitionDate": acquired.isoformat(),
            "alienationDate": (self.reference - timedelta(days=rng.randint(30, 1800))).isoformat() if alienated else None,
        }

    def _incomes(self, chunk: Chunk, members: list[dict]) -> None:
        rng = self.rng
        low = rng.random() < RATES["low_income"]
        for person in members:
            age = (self.reference - date.fromisoformat(person["birthDate"])).days // 365
            if age < 18 or person["lifeStatus"] is DEAD:
                continue
            unemployed = 18 <= age < 63 and rng.random() < RATES["unemployed"]
            sources: dict[str, float] = {}
            if age >= 63:
                sources["pension"] = rng.uniform(70_000, 160_000)
            elif not unemployed:
                if rng.random() < 0.12:
                    sources["entrepreneurship"] = rng.uniform(60_000, 600_000)
                else:
                    sources["wages"] = rng.uniform(85_000, 650_000) * (0.35 if low else 1)
            if low or unemployed:
                sources["benefits"] = rng.uniform(15_000, 60_000)
            if rng.random() < 0.03:
                sources["alimony"] = rng.uniform(20_000, 90_000)
            months = [
                {"period": period,
                 "items": [{"source": INCOME_SOURCES[k], "amount": round(v * rng.uniform(0.9, 1.1), 2)} for k, v in sources.items()]}
                for period in self.periods
            ]
            chunk.incomes.append({
                "iin": person["iin"],
                "months": months,
                "unemployed": {"registered": unemployed,
                               "since": (self.reference - timedelta(days=rng.randint(20, 400))).isoformat() if unemployed else None},
            })

    def _tenancy(self, chunk: Chunk, head: dict, address: dict) -> None:
        rng = self.rng
        if rng.random() >= RATES["communal_tenant"]:
            return
        area = round(rng.uniform(30, 90), 1)
        inventory = round(area * rng.uniform(120_000, 300_000), 2)
        chunk.tenancies.append({
            "iin": head["iin"],
            "tenancy": {
                "fund": FUNDS[rng.choices(list(FUNDS), weights=[70, 15, 15])[0]],
                "address": {k: v for k, v in address.items() if k in ("region", "city", "street", "building", "flat")},
                "since": (self.reference - timedelta(days=rng.randint(200, 9000))).isoformat(),
                "permanentUse": True,
                "area": area,
                "inventoryValue": inventory,
                "residualValue": round(inventory * rng.uniform(0.3, 0.9), 2),
                "wearPercent": rng.randint(10, 70),
                "privatized": False,
            },
        })

    def _powers(self, chunk: Chunk, members: list[dict]) -> None:
        rng = self.rng
        adults = [p for p in members if p["documents"]]
        for principal in adults:
            if rng.random() >= RATES["power_of_attorney"]:
                continue
            others = [p for p in adults if p is not principal]
            attorney = rng.choice(others)["iin"] if others and rng.random() < 0.7 else self.iin(self.birth(25, 60), rng.choice([1, 2]))
            self.powers += 1
            issued = self.reference - timedelta(days=rng.randint(10, 700))
            kind = rng.choices(["valid", "expired", "revoked", "out_of_scope"], weights=[70, 10, 10, 10])[0]
            valid_to = issued + timedelta(days=rng.randint(365, 3 * 365))
            if kind == "expired":
                issued = self.reference - timedelta(days=rng.randint(800, 1500))
                valid_to = issued + timedelta(days=365)
            chunk.powers.append({
                "number": f"ДС-{issued.year}-{self.powers:07d}",
                "date": issued.isoformat(),
                "notary": f"{rng.choice(NOTARIES)}, нотариус",
                "principalIin": principal["iin"],
                "attorneyIin": attorney,
                "scope": ["HousingCertificate"] if kind == "out_of_scope" else rng.sample(PROXY_SERVICES, k=rng.randint(1, 3)) + ["HousingQueueRegistration"],
                "validFrom": issued.isoformat(),
                "validTo": valid_to.isoformat(),
                "revoked": kind == "revoked",
            })


def generate(seed: int, size: int, *, chunk_persons: int = 20_000, reference: date = REFERENCE_DATE) -> Iterator[Chunk]:
    """``size`` persons in chunks of about ``chunk_persons`` (whole households)."""
    generator = _Generator(seed, reference)
    made = 0
    while made < size:
        chunk = Chunk()
        while made < size and len(chunk.persons) < chunk_persons:
            made += generator.household(chunk, size - made)
        yield chunk
