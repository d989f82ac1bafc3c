"""A Modbus TCP charger simulator (Alfen, Vestel / Webasto, ABB) with a car, for EVFlex.

`evflex-charger-sim --model alfen --host 127.0.0.1 --port 1502` serves the model's
real register map; `--control-port` adds a loopback HTTP/JSON endpoint to read its
state and make it misbehave. Tests use `SimCharger` and `SimServer` directly.
"""
