"""The service provider's workstation on the regional gateway (ЭҮӨШ АЖО).

It registers requests that arrive through the gateways, runs the provider staff's procedures of
the reglament's section 2 in virtual time (chancellery, head, responsible executor), decides by
the reglament's condition against the registries, has the head sign the result, and sends it
back through the gateways to the citizen's personal cabinet or the State Corporation.
"""
