"""What an operator reads from the gateway, in Kazakh, Russian and English (the error catalogue's
texts are the protocol's: :data:`gateway_protocol.errors.CATALOGUE`)."""

CONFIG_REFUSED = {
    "kk": "Конфигурацияның өзгерісі қабылданбады",
    "ru": "Изменение конфигурации отклонено",
    "en": "The configuration change is refused",
}
