#include <catch2/catch.hpp>

#include <limits>

#include "eventstore/rocksdb/record_codec.h"

using namespace orderflow;
using namespace orderflow::eventstore;

TEST_CASE("codec: event record round-trips every field", "[eventstore][codec]") {
  app::NewEvent e;
  e.type = "order.created";
  e.schema_version = 7;
  e.payload = std::string("{\"id\":\"o-1\",\"bin\":\"") + std::string("\0\xff", 2) + "\"}";
  e.metadata = {"ev-1", -123456789, "corr", "cause", "actor", "idem"};
  std::string bytes;
  codec::encode_event(bytes, "order-1", 42, e);

  app::RecordedEvent r;
  REQUIRE(codec::decode_event(bytes, 99, r));
  CHECK(r.sequence == 99);
  CHECK(r.stream_id == "order-1");
  CHECK(r.stream_version == 42);
  CHECK(r.type == e.type);
  CHECK(r.schema_version == 7);
  CHECK(r.payload == e.payload);
  CHECK(r.metadata == e.metadata);
}

TEST_CASE("codec: truncated, overlong or unknown-format records are refused", "[eventstore][codec]") {
  app::NewEvent e;
  e.type = "t";
  e.payload = "payload";
  e.metadata.event_id = "id";
  std::string bytes;
  codec::encode_event(bytes, "s", 1, e);
  app::RecordedEvent r;
  for (size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(codec::decode_event(bytes.substr(0, n), 1, r));
  CHECK_FALSE(codec::decode_event(bytes + "x", 1, r));
  std::string wrong_format = bytes;
  wrong_format[0] = 2;
  CHECK_FALSE(codec::decode_event(wrong_format, 1, r));
  // A length that claims more bytes than there are.
  std::string huge_len = bytes;
  huge_len[1] = '\x7f';
  CHECK_FALSE(codec::decode_event(huge_len, 1, r));
}

TEST_CASE("codec: big-endian keys sort numerically and stream keys parse back", "[eventstore][codec]") {
  char a[8], b[8];
  codec::put_u64_be(a, 255);
  codec::put_u64_be(b, 256);
  CHECK(std::string_view(a, 8) < std::string_view(b, 8));
  CHECK(codec::get_u64_be(std::string_view(b, 8)) == 256);
  codec::put_u64_be(a, std::numeric_limits<uint64_t>::max());
  CHECK(codec::get_u64_be(std::string_view(a, 8)) == std::numeric_limits<uint64_t>::max());

  std::string k1, k2, k3;
  codec::append_stream_key(k1, "abc", 2);
  codec::append_stream_key(k2, "abc", 10);
  codec::append_stream_key(k3, "abcd", 1);
  CHECK(k1 < k2);
  CHECK(k2 < k3);  // all versions of "abc" sort before any key of "abcd"
  std::string_view stream;
  uint64_t version = 0;
  REQUIRE(codec::parse_stream_key(k2, stream, version));
  CHECK(stream == "abc");
  CHECK(version == 10);
  CHECK_FALSE(codec::parse_stream_key("short", stream, version));
}

TEST_CASE("codec: outbox and idempotency values round-trip", "[eventstore][codec]") {
  std::string bytes;
  codec::encode_outbox(bytes, {"order.created", "{\"a\":1}"});
  app::OutboxMessage m;
  REQUIRE(codec::decode_outbox(bytes, m));
  CHECK(m.routing_key == "order.created");
  CHECK(m.body == "{\"a\":1}");

  bytes.clear();
  codec::encode_idempotency(bytes, -5, "stored response");
  int64_t expires = 0;
  std::string value;
  REQUIRE(codec::decode_idempotency(bytes, expires, value));
  CHECK(expires == -5);
  CHECK(value == "stored response");
  CHECK_FALSE(codec::decode_idempotency("", expires, value));
}

TEST_CASE("stream runs: a run of one is the 8-byte value of earlier releases, longer runs add a count",
          "[eventstore][codec]") {
  std::string one, three;
  codec::encode_stream_run(one, {42, 1});
  codec::encode_stream_run(three, {7, 3});
  CHECK(one.size() == 8);
  CHECK(three.size() == 12);
  codec::StreamRun run;
  REQUIRE(codec::decode_stream_run(one, run));
  CHECK(run.first_sequence == 42);
  CHECK(run.count == 1);
  REQUIRE(codec::decode_stream_run(three, run));
  CHECK(run.first_sequence == 7);
  CHECK(run.count == 3);
  CHECK_FALSE(codec::decode_stream_run("short", run));
  CHECK_FALSE(codec::decode_stream_run(std::string(12, '\0'), run));  // a count of 0
  CHECK_FALSE(codec::decode_stream_run(std::string(10, '\0'), run));
}
