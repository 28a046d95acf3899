"""Talking to GitHub: the app client, payload models, slash commands and git transport."""
