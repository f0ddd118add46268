""""Е-собес", the social-protection information system (Almaty city).

In the Almaty reglament of housing assistance (shared/seeds/004…, section 4, item 12) the portal
sends the applicant's request, certified with their ЭЦҚ, through ЭҮШ to the "Е-собес" information
system (a numbered process of section 4), where the provider then checks the documents. This system stands for
it: behind the Almaty regional gateway (``gateway-almaty``, routeId ``almaty``) it serves
``ESOBES_HousingAidApplication``, receives each application once under its registration number
``ESB-<year>-<NNNNNN>`` with the status RECEIVED, and shows testers what it received at
``/api/registrations``.
"""
