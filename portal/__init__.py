"""The e-government portal (egov.kz): the citizen's log-in, service catalogue, signed requests
and personal cabinet ("жеке кабинет")."""
