"""partner-center-sync: Partner Center's indirect-reseller lists published as registry upserts."""
