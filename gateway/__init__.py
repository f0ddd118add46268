"""ЭҮШ, the central e-government gateway, and ЭҮӨШ, a regional gateway: one code, two roles.

Every message between the simulated systems passes a gateway. It checks the envelope, the
sender's password, the sender's signature and certificate, and the sender's right to the service,
then routes: the central gateway to a registry, to the portal, or by routeId to a regional
gateway; a regional gateway to a provider of its region, or up to the central gateway.
"""
