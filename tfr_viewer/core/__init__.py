"""The tfr-viewer library: TFRecord framing, indexes, readers, loaders, writers. Never imports Qt."""
