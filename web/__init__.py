"""The mobile web channel: server-rendered pages on the same use cases as the bot."""
