"""The web entry: `POST /webhooks` (verify, persist, answer in milliseconds), `GET /healthz`
(alive) and `GET /readyz` (able to work); the `serve` and `deliveries` commands."""
