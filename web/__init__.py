"""The latteprov web app (filled in by the web issue)."""
