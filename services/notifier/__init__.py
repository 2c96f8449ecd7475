"""notifier: tells distributors what needs a person, by signed webhook."""
