"""One module per try-on preprocessing protocol (see `humanparse.tryon.protocol.TryonProtocol`)."""
