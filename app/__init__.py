"""Parley: approved replies, rumour escalation and push messages for officers, on record."""
