"""Live push: who is subscribed to what, woken by new cursors."""
