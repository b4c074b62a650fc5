"""Third-party pure-Python packages shipped inside the Lambda zip (see _vendor/README.md)."""
