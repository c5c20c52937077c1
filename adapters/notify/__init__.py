"""Notifications: the targets emitted events are sent to, the requests each kind of target
takes (generic JSON webhook, ntfy), and sending one with a timeout (docs/notifications.md)."""
