"""gdap-revoker: terminates a suspended or unassigned reseller's GDAP relationships."""
