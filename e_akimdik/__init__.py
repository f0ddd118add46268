""""Е-әкімдік", the akimat's electronic document system (West Kazakhstan region).

In the West Kazakhstan reglament of the housing queue (shared/seeds/003…, section 2, item 5,
procedure 4) the provider's responsible executor reviews the documents and "registers them in the
"Е-әкімдік" information system" before preparing the notification or the reasoned refusal. This
system stands for it: behind the region's gateway (ЭҮАШ, ``gateway-wko``, routeId ``wko``) it
serves ``EAKIMDIK_DocumentRegistration`` and gives each application one registration number of
the akimat's per-year sequence, ``EAK-<year>-<NNNNNN>``; testers read what it registered at
``/api/registrations``.
"""
