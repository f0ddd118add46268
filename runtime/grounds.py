"""A ground for refusal, as a provider's reasoned refusal cites it: a code and the text in Kazakh,
Russian and English. Shared by the systems that decide (the provider's workstation, "Е-собес")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ground:
    code: str
    kk: str
    ru: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "kk": self.kk, "ru": self.ru, "en": self.en}


__all__ = ["Ground"]
