"""subscription-change: classifies changes to existing subscriptions; exempt ones are decided here."""
