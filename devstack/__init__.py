"""Development stand-ins and the `make dev` launcher: the Temporal dev server from temporal-dev.yml,
the dev mailbox, the sandbox payment gateway, the demo seed."""
