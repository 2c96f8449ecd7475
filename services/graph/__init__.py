"""Microsoft Graph's GDAP API (delegatedAdminRelationships), per distributor, and its stand-in."""
