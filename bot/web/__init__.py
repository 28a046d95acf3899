"""The web entry: `POST /webhooks` (verify, persist, answer in milliseconds) and `GET /healthz`."""
