"""The operator dashboard and the application that serves it beside the C-route API."""
