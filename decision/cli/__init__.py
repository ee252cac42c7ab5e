"""The `spine-cds` command: evaluate, batch, kb, audit, serve, bench, and the inputs they read."""
