"""A real Kafka client (confluent-kafka, i.e. librdkafka) for test_kafka_clients.py, run inside
the client network namespace so that it resolves the stable names through switchyard.

    kafka_client.py produce --bootstrap B --topic T --rate 100 --stop FILE --out FILE
    kafka_client.py consume --bootstrap B --topic T --group G --stop FILE --out FILE

Both run until the stop file exists, then write JSON to --out:
- produce: every acknowledged sequence number with the time of its acknowledgement, and every
  delivery failure (acks=all, so an acknowledgement means the broker has the message);
- consume: every sequence number consumed, in order (a group member, committing offsets).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from confluent_kafka import Consumer, KafkaError, Producer


def common(bootstrap: str) -> dict:
    return {
        "bootstrap.servers": bootstrap,
        # Reconnect quickly and resolve the broker names again on each attempt, as a client in
        # production does after its endpoint goes away (broker.address.ttl is librdkafka's
        # own cache of resolved addresses).
        "reconnect.backoff.ms": 100,
        "reconnect.backoff.max.ms": 1000,
        "broker.address.ttl": 1000,
        "topic.metadata.refresh.interval.ms": 5000,
        "log_level": 3,
    }


def produce(args) -> dict:
    acked: list[tuple[int, float]] = []
    failures: list[str] = []

    def delivered(err, msg):
        if err is not None:
            failures.append(f"{msg.value().decode()}: {err}")
        else:
            acked.append((int(msg.value().decode()), time.time()))

    producer = Producer({**common(args.bootstrap), "acks": "all", "linger.ms": 5,
                         "message.timeout.ms": 60000, "retries": 1000000, "retry.backoff.ms": 100})
    interval = 1.0 / args.rate
    seq = 0
    next_at = time.time()
    started = time.time()
    while not os.path.exists(args.stop):
        now = time.time()
        if now >= next_at:
            try:
                producer.produce(args.topic, value=str(seq).encode(), on_delivery=delivered)
                seq += 1
                next_at += interval
            except BufferError:
                pass
        producer.poll(min(0.005, max(0.0, next_at - time.time())))
    left = producer.flush(60)
    return {"sent": seq, "acked": acked, "failures": failures, "unflushed": left,
            "started": started, "stopped": time.time()}


def consume(args) -> dict:
    consumer = Consumer({**common(args.bootstrap), "group.id": args.group,
                         # tansu holds a JoinGroup for half the session timeout: keep it short.
                         "session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                         "auto.offset.reset": "earliest", "enable.auto.commit": True,
                         "auto.commit.interval.ms": 500})
    consumer.subscribe([args.topic])
    seen: list[int] = []
    errors: list[str] = []
    first_at = None
    while not os.path.exists(args.stop):
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                errors.append(str(msg.error()))
            continue
        if first_at is None:
            first_at = time.time()
        seen.append(int(msg.value().decode()))
        if args.progress:
            with open(args.progress, "w") as f:
                f.write(str(len(seen)))
    consumer.close()
    return {"seen": seen, "errors": errors[-20:], "first_at": first_at}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default="switchyard-test")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--stop", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--progress")
    args = parser.parse_args()
    result = produce(args) if args.mode == "produce" else consume(args)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
