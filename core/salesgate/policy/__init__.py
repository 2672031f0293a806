"""The policy language: YAML rule files → validated models → compiled rules."""
