"""The numbers: pure polars, frames in and frames out; nothing here opens a file or a socket."""
