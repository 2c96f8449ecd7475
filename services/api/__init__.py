"""The POR validation API: Partner Center's validateresellers, answered from porgate's registry."""
