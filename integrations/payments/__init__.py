"""Payment gateways: create a refund, query it, verify its asynchronous notification."""
