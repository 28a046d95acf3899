"""What the processes report to an operator's monitoring: Prometheus metrics (`metrics`), and
each run as OpenTelemetry spans (`timeline`, `spans`, `observe`) when OTLP is configured."""
