"""CDS Hooks 2.0: the wire models, prefetch into a case, the FHIR client, cards and orders, the service."""
