"""What every step shares: the data model, options, configuration, naming rules and errors."""
