"""HTTP and WebSocket controllers: they only translate HTTP to the domain and back."""
