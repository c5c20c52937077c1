"""The application layer: the use cases every entry point calls with typed arguments and gets
typed answers from (the CLI today, HTTP and NATS next). No argparse, no printing."""
