"""The HTTP surfaces: each turns one wire format into calls of the one GatewayService."""
