"""NATS JetStream, the transport past one machine (docs/nats.md): subjects, streams, the
runner's spool and publisher, and following the events stream."""
